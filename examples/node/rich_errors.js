// The google.rpc.Status the service sends in the `grpc-status-details-bin` trailer,
// decoded: ErrorInfo (reason, metadata), RetryInfo, BadRequest, QuotaFailure.
// The few google.rpc types are declared here, so nothing beyond npm packages is needed.
"use strict";

const protobuf = require("protobufjs");

const root = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: { fields: { type_url: { type: "string", id: 1 }, value: { type: "bytes", id: 2 } } },
            Duration: { fields: { seconds: { type: "int64", id: 1 }, nanos: { type: "int32", id: 2 } } },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: "int32", id: 1 },
                message: { type: "string", id: 2 },
                details: { rule: "repeated", type: "google.protobuf.Any", id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: "string", id: 1 },
                domain: { type: "string", id: 2 },
                metadata: { keyType: "string", type: "string", id: 3 },
              },
            },
            RetryInfo: { fields: { retry_delay: { type: "google.protobuf.Duration", id: 1 } } },
            BadRequest: {
              fields: { field_violations: { rule: "repeated", type: "FieldViolation", id: 1 } },
              nested: {
                FieldViolation: {
                  fields: { field: { type: "string", id: 1 }, description: { type: "string", id: 2 } },
                },
              },
            },
            QuotaFailure: {
              fields: { violations: { rule: "repeated", type: "Violation", id: 1 } },
              nested: {
                Violation: {
                  fields: { subject: { type: "string", id: 1 }, description: { type: "string", id: 2 } },
                },
              },
            },
          },
        },
      },
    },
  },
});

const Status = root.lookupType("google.rpc.Status");
const DETAIL_TYPES = ["ErrorInfo", "RetryInfo", "BadRequest", "QuotaFailure"];

// {code, message, reason, metadata, retryAfterSeconds, fieldViolations, quotaViolations}
// for a failed call (a ServiceError from @grpc/grpc-js).
function richError(error) {
  const out = { code: error.code, message: error.details, reason: "", metadata: {} };
  const raw = error.metadata ? error.metadata.get("grpc-status-details-bin")[0] : undefined;
  if (!raw) return out;
  const status = Status.toObject(Status.decode(raw), { longs: Number });
  for (const any of status.details || []) {
    const name = DETAIL_TYPES.find((t) => any.type_url.endsWith(`/google.rpc.${t}`));
    if (!name) continue;
    const type = root.lookupType(`google.rpc.${name}`);
    const detail = type.toObject(type.decode(any.value), { longs: Number });
    if (name === "ErrorInfo") Object.assign(out, { reason: detail.reason, metadata: detail.metadata || {} });
    if (name === "RetryInfo") {
      const delay = detail.retry_delay || {};
      out.retryAfterSeconds = (delay.seconds || 0) + (delay.nanos || 0) / 1e9;
    }
    if (name === "BadRequest") out.fieldViolations = detail.field_violations || [];
    if (name === "QuotaFailure") out.quotaViolations = detail.violations || [];
  }
  return out;
}

module.exports = { richError };
