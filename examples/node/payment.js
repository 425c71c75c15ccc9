// Create a payment with a saved card, then read it back, over @grpc/grpc-js with the
// protos loaded straight from protos/ (no generated code).
//
//   TOKEN=... node payment.js            # against `make run` on 127.0.0.1:50051
//
// Environment: TOKEN (a bearer token with payments:read and payments:write; required),
// PAYMENT_TARGET (host:port, default 127.0.0.1:50051), PAYMENT_TLS_CA (a PEM CA file: TLS
// instead of plaintext), ACCOUNT_ID (default acct_node_demo), PAYMENT_METHOD (a Stripe
// payment method id; localstripe knows pm_card_visa).
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { richError } = require("./rich_errors");

const PROTOS = path.resolve(__dirname, "..", "..", "protos");
const DEADLINE_MS = 10_000;

// UNAVAILABLE is retried with backoff: safe for writes because each carries a request_id,
// and the service answers a repeated request_id with the first call's result.
const SERVICE_CONFIG = {
  methodConfig: [
    {
      name: [{ service: "payments.v1.PaymentService" }],
      retryPolicy: {
        maxAttempts: 4,
        initialBackoff: "0.2s",
        maxBackoff: "5s",
        backoffMultiplier: 2,
        retryableStatusCodes: ["UNAVAILABLE"],
      },
    },
  ],
};

function paymentService(target) {
  const definition = protoLoader.loadSync("payments/v1/payment_service.proto", {
    includeDirs: [PROTOS],
    keepCase: true, // field names as in the .proto: request_id, account_id
    longs: String, // int64 amounts as strings, never rounded
    enums: String, // "PAYMENT_STATE_SUCCEEDED"
    defaults: true,
  });
  const { PaymentService } = grpc.loadPackageDefinition(definition).payments.v1;
  const ca = process.env.PAYMENT_TLS_CA;
  const credentials = ca
    ? grpc.credentials.createSsl(fs.readFileSync(ca))
    : grpc.credentials.createInsecure();
  return new PaymentService(target, credentials, {
    "grpc.service_config": JSON.stringify(SERVICE_CONFIG),
  });
}

// One unary call with the bearer token and a deadline, as a promise.
function call(client, method, request) {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${process.env.TOKEN}`);
  const deadline = new Date(Date.now() + DEADLINE_MS);
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline }, (error, reply) =>
      error ? reject(error) : resolve(reply),
    );
  });
}

async function main() {
  if (!process.env.TOKEN) throw new Error("set TOKEN (see README: payment-service token)");
  const client = paymentService(process.env.PAYMENT_TARGET || "127.0.0.1:50051");
  const account = process.env.ACCOUNT_ID || "acct_node_demo";
  const attached = await call(client, "AttachPaymentMethod", {
    request_id: crypto.randomUUID(),
    account_id: account,
    stripe_payment_method_id: process.env.PAYMENT_METHOD || "pm_card_visa",
    set_default: true,
  });
  console.log("payment method", attached.payment_method.id, attached.payment_method.card.last4);
  const created = await call(client, "CreatePayment", {
    request_id: crypto.randomUUID(), // keep it to retry: the same id never charges twice
    account_id: account,
    amount: "1050", // 10.50 USD, in minor units
    currency_code: "usd",
    confirm: true,
  });
  console.log("created", created.payment.id, created.payment.state);
  const read = await call(client, "GetPayment", { id: created.payment.id });
  const p = read.payment;
  console.log("read", p.id, p.state, `${p.amount_received} ${p.currency_code}`);
  client.close();
}

main().catch((error) => {
  if (error.code === undefined) throw error;
  const rich = richError(error);
  const name = Object.keys(grpc.status).find((key) => grpc.status[key] === rich.code);
  console.error(`failed: ${name} ${rich.reason}: ${rich.message}`);
  if (Object.keys(rich.metadata).length) console.error("  metadata:", rich.metadata);
  for (const v of rich.fieldViolations || []) console.error(`  field ${v.field}: ${v.description}`);
  if (rich.retryAfterSeconds !== undefined) console.error(`  retry after ${rich.retryAfterSeconds}s`);
  process.exitCode = 1;
});
