// The official JS SDK (@upstash/qstash) against django-qstash's dev server.
//
// Usage: node sdk_check.mjs CONFIG_JSON
//   CONFIG_JSON: {"qstashUrl", "token", "currentKey", "nextKey", "webhookUrl", "envelope",
//                 "devPort" (when the server runs with the official dev server's user-1 keys)}
// Every call of the SDK is one step; deliveries go to a loopback receiver here, which checks
// each signature with the SDK's own Receiver. Prints one JSON object (steps and deliveries) for
// tests/devserver/test_js_sdk.py to judge; never decides pass or fail itself.
import http from "node:http";
import { Client, Receiver } from "@upstash/qstash";

const config = JSON.parse(process.argv[2]);
const receiver = new Receiver({
  currentSigningKey: config.currentKey,
  nextSigningKey: config.nextKey,
});
const client = new Client({ token: config.token, baseUrl: config.qstashUrl });
const steps = {};
const deliveries = [];
let flakyFailures = 1;

const server = http.createServer(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  const url = `http://127.0.0.1:${server.address().port}${req.url}`;
  let verified = false;
  let error = null;
  try {
    verified = await receiver.verify({ signature: req.headers["upstash-signature"], body, url });
  } catch (e) {
    error = String(e);
  }
  deliveries.push({
    path: req.url,
    verified,
    error,
    body,
    retried: req.headers["upstash-retried"] ?? null,
    custom: req.headers["x-custom"] ?? null,
    // Every header line as received: a repeated header shows up once per line.
    rawHeaders: req.rawHeaders,
  });
  if (req.url === "/flaky" && flakyFailures > 0) {
    flakyFailures -= 1;
    res.writeHead(500);
    res.end("fails once");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end("{}");
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const here = `http://127.0.0.1:${server.address().port}`;

async function step(name, call) {
  try {
    const value = await call();
    steps[name] = { ok: true, value: value ?? null };
    return value;
  } catch (e) {
    steps[name] = { ok: false, error: String(e) };
    return undefined;
  }
}

const until = async (probe, seconds) => {
  for (let i = 0; i < seconds * 20; i += 1) {
    if (probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

await step("publishJSON", () =>
  client.publishJSON({ url: `${here}/plain`, body: { hello: "world" }, headers: { "x-custom": "1" } }),
);
await step("publish with delay", () => client.publish({ url: `${here}/delayed`, body: "text", delay: 1 }));
await step("publish, retried once", () =>
  client.publishJSON({ url: `${here}/flaky`, body: { n: 1 }, retries: 2 }),
);
await step("queue upsert", () => client.queue({ queueName: "js-sdk" }).upsert({ parallelism: 1 }));
await step("enqueueJSON", () =>
  client.queue({ queueName: "js-sdk" }).enqueueJSON({ url: `${here}/queued`, body: { q: 1 } }),
);
await step("queue get", () => client.queue({ queueName: "js-sdk" }).get());
await step("queue delete", () => client.queue({ queueName: "js-sdk" }).delete());
await step("batchJSON", () =>
  client.batchJSON([
    { url: `${here}/batch-1`, body: { b: 1 } },
    { url: `${here}/batch-2`, body: { b: 2 } },
  ]),
);
const schedule = await step("schedules.create", () =>
  client.schedules.create({ destination: `${here}/scheduled`, cron: "0 0 1 1 *", body: "{}" }),
);
if (schedule) {
  const id = schedule.scheduleId;
  await step("schedules.get", () => client.schedules.get(id));
  await step("schedules.pause", () => client.schedules.pause({ schedule: id }));
  await step("schedules.get paused", () => client.schedules.get(id));
  await step("schedules.resume", () => client.schedules.resume({ schedule: id }));
  await step("schedules.list", () => client.schedules.list());
  await step("schedules.delete", () => client.schedules.delete(id));
}
const later = await step("publish in an hour", () =>
  client.publishJSON({ url: `${here}/never`, body: {}, delay: 3600 }),
);
if (later) {
  await step("messages.get", () => client.messages.get(later.messageId));
  await step("messages.delete", () => client.messages.delete(later.messageId));
}
// What the SDK's own tests expect of QStash: deleting an unknown URL group is not an error, a
// flow control without a period has the default one, and forwarded headers never duplicate the
// server's own (the Workflow SDK forwards every header it received).
await step("urlGroups.delete unknown, twice", async () => {
  await client.urlGroups.delete("js-never-created");
  await client.urlGroups.delete("js-never-created");
  return true;
});
const limited = await step("publish with a rate and no period", () =>
  client.publishJSON({
    url: `${here}/never`,
    body: {},
    delay: 3600,
    flowControl: { key: "js-no-period", rate: 5 },
  }),
);
if (limited) {
  await step("messages.get without a period", () => client.messages.get(limited.messageId));
  await step("messages.delete without a period", () => client.messages.delete(limited.messageId));
}
await step("publish forwarding the server's own headers", () =>
  client.publishJSON({
    url: `${here}/forwarded`,
    body: { forwarded: true },
    headers: {
      "Upstash-Forward-Upstash-Signature": "forged",
      "Upstash-Forward-Upstash-Message-Id": "msg_forged",
      "Upstash-Forward-Content-Length": "3",
      "Upstash-Forward-Host": "forged.example",
      "Upstash-Forward-Transfer-Encoding": "chunked",
    },
  }),
);
const dead = await step("publish to a closed port", () =>
  client.publishJSON({ url: "http://127.0.0.1:9/closed", body: { d: 1 }, retries: 0 }),
);
if (config.webhookUrl) {
  // A Node service enqueuing a Django task: the django-qstash envelope, published by the JS SDK.
  await step("publish a django-qstash task", () =>
    client.publish({
      url: config.webhookUrl,
      body: JSON.stringify(config.envelope),
      headers: { "Content-Type": "application/json" },
    }),
  );
}
if (config.devPort) {
  // The SDK's dev mode: no token or URL given; it must find this server (by its user-1 keys on
  // QSTASH_DEV_PORT) instead of downloading the official binary.
  process.env.QSTASH_DEV = "true";
  process.env.QSTASH_DEV_PORT = String(config.devPort);
  await step("dev mode publishJSON", () =>
    new Client().publishJSON({ url: `${here}/dev-mode`, body: { dev: true } }),
  );
}

const paths = ["/plain", "/delayed", "/queued", "/batch-1", "/batch-2", "/forwarded"];
if (config.devPort) paths.push("/dev-mode");
await until(
  () =>
    paths.every((p) => deliveries.some((d) => d.path === p)) &&
    deliveries.filter((d) => d.path === "/flaky").length >= 2,
  15,
);
if (dead) {
  await step("dlq.listMessages", async () => {
    let entries = [];
    for (let i = 0; i < 100; i += 1) {
      entries = (await client.dlq.listMessages()).messages;
      if (entries.some((m) => m.messageId === dead.messageId)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return entries.map((m) => m.messageId);
  });
}
await step("logs", async () => (await client.logs({})).logs.map((log) => log.state));

console.log(JSON.stringify({ steps, deliveries }));
server.close();
process.exit(0);
