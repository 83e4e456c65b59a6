// A small validator for the subset of OpenAPI 3.0 schemas that openapi.json uses. It refuses
// any keyword it does not know, so a schema can never pass because part of it was ignored.

const ANNOTATIONS = new Set(["description", "example", "examples", "title", "default", "readOnly", "writeOnly", "deprecated"]);
const KEYWORDS = new Set([
  "$ref", "type", "nullable", "enum", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
  "required", "properties", "additionalProperties", "items", "minItems", "maxItems", "allOf", "anyOf", "oneOf",
]);
const FORMATS = {
  // RFC 3339 date-time.
  "date-time": (s) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(s) && !Number.isNaN(Date.parse(s)),
};

/** Follows a local `#/...` reference inside `doc`. */
export function resolveRef(doc, ref) {
  if (!ref.startsWith("#/")) throw new Error(`only local references are supported: ${ref}`);
  let node = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (node === null || typeof node !== "object" || !(key in node)) throw new Error(`unresolved reference ${ref}`);
    node = node[key];
  }
  return node;
}

/** Follows `$ref` until reaching an object without one. */
export function deref(doc, node) {
  let seen = 0;
  while (node && typeof node === "object" && typeof node.$ref === "string") {
    if (++seen > 20) throw new Error("reference loop");
    node = resolveRef(doc, node.$ref);
  }
  return node;
}

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/**
 * Validates `value` against `schema` (resolved inside `doc`); returns a list of errors, each
 * `"<path>: <message>"`, empty when the value conforms.
 */
export function validate(doc, schema, value, path = "$") {
  const errors = [];
  check(doc, schema, value, path, errors);
  return errors;
}

function check(doc, schema, value, path, errors) {
  if (schema === true || schema === undefined) return;
  if (schema === false) {
    errors.push(`${path}: no value is allowed here`);
    return;
  }
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key) && !key.startsWith("x-")) {
      throw new Error(`schema keyword ${key} at ${path} is not supported by this validator`);
    }
  }
  if (schema.$ref) {
    check(doc, resolveRef(doc, schema.$ref), value, path, errors);
    return;
  }
  if (value === null && schema.nullable === true) return;
  if (schema.type !== undefined) {
    const actual = typeOf(value);
    const ok = schema.type === actual || (schema.type === "number" && actual === "integer");
    if (!ok) {
      errors.push(`${path}: expected ${schema.type}${schema.nullable ? " or null" : ""}, got ${actual} ${JSON.stringify(value)}`);
      return;
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => e === value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === "string") {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push(`${path}: ${JSON.stringify(value)} does not match /${schema.pattern}/`);
    }
    if (schema.minLength !== undefined && [...value].length < schema.minLength) {
      errors.push(`${path}: shorter than ${schema.minLength}`);
    }
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) {
      errors.push(`${path}: longer than ${schema.maxLength}`);
    }
    if (schema.format !== undefined) {
      const f = FORMATS[schema.format];
      if (!f) throw new Error(`format ${schema.format} at ${path} is not supported by this validator`);
      if (!f(value)) errors.push(`${path}: ${JSON.stringify(value)} is not a ${schema.format}`);
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: ${value} > ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((v, i) => check(doc, schema.items, v, `${path}[${i}]`, errors));
  }
  if (typeOf(value) === "object") {
    for (const name of schema.required ?? []) {
      if (!(name in value)) errors.push(`${path}: missing required property ${name}`);
    }
    const props = schema.properties ?? {};
    for (const [name, v] of Object.entries(value)) {
      if (name in props) check(doc, props[name], v, `${path}.${name}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected property ${name}`);
      else if (typeof schema.additionalProperties === "object") check(doc, schema.additionalProperties, v, `${path}.${name}`, errors);
    }
  }
  for (const sub of schema.allOf ?? []) check(doc, sub, value, path, errors);
  for (const [keyword, exactlyOne] of [["anyOf", false], ["oneOf", true]]) {
    if (!schema[keyword]) continue;
    const results = schema[keyword].map((sub, i) => validate(doc, sub, value, `${path}<${keyword}[${i}]>`));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing === 0) errors.push(`${path}: matches none of ${keyword}:\n    ${results.flat().join("\n    ")}`);
    else if (exactlyOne && passing > 1) errors.push(`${path}: matches ${passing} branches of oneOf`);
  }
}
