// A stand-in for the `wrangler` command, for the deploy script's tests: it records every call
// (arguments, stdin, the environment variables the deploy script sets) as one JSON line in
// $STANDIN_LOG, and answers `whoami --json`, `secret list`, `secret put` and `deploy` the way
// wrangler 4.86 does, from an account described by the JSON file $STANDIN_STATE:
//
//   { loggedIn, accounts: [{id, name}], workerExists, secrets: [names], deployUrl, fail: [command] }
//
// `secret put` and `deploy` change that file as they would change the account (the Worker then
// exists, the secret is there), so a second run sees what the first one did.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";

const [command, ...rest] = process.argv.slice(2);
const sub = command === "secret" ? `secret ${rest[0]}` : command;
const statePath = process.env.STANDIN_STATE;
const state = JSON.parse(readFileSync(statePath, "utf8"));
const save = () => writeFileSync(statePath, JSON.stringify(state, null, 2));

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

const stdin = sub === "secret put" ? await readStdin() : null;
appendFileSync(
  process.env.STANDIN_LOG,
  JSON.stringify({
    argv: process.argv.slice(2),
    stdin,
    cwd: process.cwd(),
    env: {
      CLOUDFLARE_ACCOUNT_ID: process.env.CLOUDFLARE_ACCOUNT_ID ?? null,
      WRANGLER_OUTPUT_FILE_PATH: process.env.WRANGLER_OUTPUT_FILE_PATH ?? null,
    },
  }) + "\n",
);

const NAME = "upload-token-service";
function fail(message, code = 1) {
  process.stderr.write(`\n✘ [ERROR] ${message}\n\n`);
  process.exit(code);
}
if (state.fail?.includes(sub)) fail(`${sub} failed (as the test asked)`);

switch (sub) {
  case "whoami": {
    if (!rest.includes("--json")) fail("the stand-in answers `whoami --json` only", 2);
    if (!state.loggedIn) {
      process.stdout.write('{"loggedIn":false}\n');
      process.exit(1);
    }
    process.stdout.write(
      JSON.stringify({ loggedIn: true, authType: "OAuth Token", email: "ops@example.com", accounts: state.accounts }, null, 2) + "\n",
    );
    break;
  }
  case "secret list": {
    if (!state.loggedIn) fail("Not logged in.");
    if (!state.workerExists) {
      fail(
        `Worker "${NAME}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\n` +
          "Otherwise, check that the Worker name is correct and you're logged into the right account.",
      );
    }
    process.stdout.write(JSON.stringify(state.secrets.map((name) => ({ name, type: "secret_text" })), null, "  ") + "\n");
    break;
  }
  case "secret put": {
    const key = rest[1];
    if (!key) fail("Secret name is required.", 2);
    process.stdout.write(`🌀 Creating the secret for the Worker "${NAME}" \n`);
    if (!state.workerExists) {
      process.stdout.write(`🌀 Creating new Worker "${NAME}"...\n`);
      state.workerExists = true;
    }
    if (!state.secrets.includes(key)) state.secrets.push(key);
    save();
    process.stdout.write(`✨ Success! Uploaded secret ${key}\n`);
    break;
  }
  case "deploy": {
    state.workerExists = true;
    state.deploys = (state.deploys ?? 0) + 1;
    save();
    process.stdout.write(`Uploaded ${NAME} (1.00 sec)\nDeployed ${NAME} triggers (0.50 sec)\n  ${state.deployUrl}\n  schedule: */30 * * * *\n`);
    if (process.env.WRANGLER_OUTPUT_FILE_PATH) {
      appendFileSync(
        process.env.WRANGLER_OUTPUT_FILE_PATH,
        JSON.stringify({
          type: "deploy",
          version: 1,
          worker_name: NAME,
          worker_tag: "0000",
          version_id: "00000000-0000-0000-0000-000000000000",
          targets: [state.deployUrl, "schedule: */30 * * * *"],
          timestamp: new Date().toISOString(),
        }) + "\n",
      );
    }
    break;
  }
  default:
    fail(`the stand-in does not know \`wrangler ${process.argv.slice(2).join(" ")}\``, 2);
}
