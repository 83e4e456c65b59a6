// One `list` call on a KV namespace, handed to the Rust side as a single string rather than an
// array of objects: crossing into wasm once per page instead of a few times per key.
//
// `packed` holds a line per key, `name` TAB `metadata` (empty when the metadata is not a
// string). Keys this service writes never contain a tab or a newline; a key that did would be
// unpacked wrongly and refused by the Rust side as an unreadable entry, as any foreign key is.

export async function listPage(namespace, prefix, cursor) {
  const options = cursor ? { prefix, cursor } : { prefix };
  const page = await namespace.list(options);
  const lines = new Array(page.keys.length);
  for (let i = 0; i < page.keys.length; i++) {
    const key = page.keys[i];
    lines[i] = key.name + "\t" + (typeof key.metadata === "string" ? key.metadata : "");
  }
  return {
    packed: lines.join("\n"),
    // Only while more keys follow: some runtimes also give a last page an empty cursor.
    cursor: !page.list_complete && page.cursor ? page.cursor : undefined,
  };
}
