//! Fixed answers for the text helpers: dates at the ends of the range the formatter can
//! represent, and what the log masking leaves alone.

use upload_tokens_core::redact::redact;
use upload_tokens_core::time::format_atom;

#[test]
fn instants_beyond_the_calendar_are_clamped_to_its_ends() {
    assert_eq!(format_atom(i64::MIN), "-262143-01-01T00:00:00+00:00");
    assert_eq!(format_atom(i64::MAX), "+262142-12-31T23:59:59+00:00");
    assert_eq!(format_atom(-1), "1969-12-31T23:59:59+00:00");
}

#[test]
fn dotted_words_that_are_not_bearer_tokens_stay_as_they_are() {
    for line in [
        "workerd 1.2.3 answered",
        "host a.b.c refused",
        "key abc.def.ghi unknown",
        "xeyJa.b.c is inside a word",
    ] {
        assert_eq!(redact(line), line);
    }
    assert_eq!(redact("got eyJa.b.c here"), "got [bearer token] here");
}
