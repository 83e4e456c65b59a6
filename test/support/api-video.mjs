// api.video's official Node client (@api.video/nodejs-client), as the tests load it, and the
// check of the errors it throws.
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const ApiVideoClient = require("@api.video/nodejs-client");
export const CLIENT_VERSION = require("@api.video/nodejs-client/package.json").version;
export const ApiVideoError = require("@api.video/nodejs-client/lib/ApiVideoError").default;

/** The client's model class `name` (lib/model/<name>). */
export const model = (name) => require(`@api.video/nodejs-client/lib/model/${name}`).default;

/**
 * Runs `fn`, expects it to reject with the client's ApiVideoError for a problem of `status`
 * (type, title, status), and returns that error.
 */
export async function apiError(fn, status) {
  let caught;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, `expected the client to throw an ApiVideoError with status ${status}, it resolved`);
  assert.ok(
    caught instanceof ApiVideoError,
    `expected an ApiVideoError, got ${caught?.constructor?.name}: ${caught?.message}`,
  );
  assert.equal(caught.code, status, `status of the client's error (problem: ${JSON.stringify(caught.problemDetails)})`);
  assert.equal(typeof caught.problemDetails, "object", "the client's error carries the problem body");
  assert.equal(caught.problemDetails.status, status, "problem.status");
  assert.equal(typeof caught.problemDetails.type, "string", "problem.type");
  assert.equal(typeof caught.problemDetails.title, "string", "problem.title");
  assert.equal(caught.message, caught.problemDetails.title, "the client uses the problem title as the message");
  return caught;
}
