//! The last guard on what reaches the log: anything shaped like an upload token, a video's
//! upload-state key or a bearer token is masked, whatever error message it came in.

/// `line` with every upload token id (`to` + 22 base62 characters, standing alone) shortened to
/// `to…`, and every JWT-shaped bearer token (`eyJ….….…`) replaced by `[bearer token]`.
pub fn redact(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let word = |b: u8| b.is_ascii_alphanumeric();
    while i < bytes.len() {
        let boundary = i == 0 || !word(bytes[i - 1]);
        if boundary && bytes[i..].starts_with(b"to") {
            let end = i + 2 + bytes[i + 2..].iter().take_while(|b| word(**b)).count();
            if end - i == 24 {
                out.push_str("to…");
                i = end;
                continue;
            }
        }
        if boundary && bytes[i..].starts_with(b"eyJ") {
            let end = i + bytes[i..]
                .iter()
                .take_while(|b| word(**b) || matches!(b, b'-' | b'_' | b'.'))
                .count();
            if line[i..end].matches('.').count() == 2 {
                out.push_str("[bearer token]");
                i = end;
                continue;
            }
        }
        // Copy one whole character.
        let ch = line[i..]
            .chars()
            .next()
            .expect("i is on a character boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_and_bearer_tokens_are_masked_wherever_they_stand() {
        let t = "to1tcmSFHeYY5KzyhOqVKMKb";
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwIn0.sig-_x";
        for (line, masked) in [
            (format!("KV GET tok:{t} failed"), "KV GET tok:to… failed"),
            (
                format!("R2 put open/{t}/part/3/ab: 500"),
                "R2 put open/to…/part/3/ab: 500",
            ),
            (t.to_owned(), "to…"),
            (format!("open/{t}/part/1"), "open/to…/part/1"),
            (
                format!("bad token {jwt} seen"),
                "bad token [bearer token] seen",
            ),
        ] {
            assert_eq!(redact(&line), masked);
            assert_eq!(redact(masked), masked, "masking twice changes nothing");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for line in [
            "listing tokens: KV LIST failed: 503",
            "too short to1234",
            "atop1tcmSFHeYY5KzyhOqVKMKb is part of a longer word",
            "unicode é and → stay",
            "eyJ alone",
        ] {
            assert_eq!(redact(line), line);
        }
    }
}
