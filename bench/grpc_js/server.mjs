// The @grpc/grpc-js server of the benchmark suite's optional gRPC comparison (bench/run.ts --grpc):
// fixbug.UserServiceRpc.Login from examples/user/user.proto on a free port of 127.0.0.1, answering
// like bench/_shapes.ts's `small` shape (the mprpc provider's Login):
// { result: { errcode: 0, errmsg: <empty bytes> }, success: request.name.length > 0 }.
//
// Usage: node bench/grpc_js/server.mjs
// Prints {"ready":true,"port":N,"pid":P} on stdout once serving; shuts down when stdin ends.
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const PROTO = fileURLToPath(new URL("../../examples/user/user.proto", import.meta.url));
// The same conversions as mprpc's codec (longs/enums as strings, defaults filled in).
const definition = protoLoader.loadSync(PROTO, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
});
const pkg = grpc.loadPackageDefinition(definition);
const service = pkg.fixbug.UserServiceRpc.service;

const EMPTY = Buffer.alloc(0);
const server = new grpc.Server();
server.addService(service, {
  Login(call, callback) {
    callback(null, {
      result: { errcode: 0, errmsg: EMPTY },
      success: call.request.name.length > 0,
    });
  },
  Register(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED, details: "Register is not benchmarked" });
  },
});

const port = await new Promise((resolve, reject) => {
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => {
    if (err) reject(err);
    else resolve(p);
  });
});
console.log(JSON.stringify({ ready: true, port, pid: process.pid }));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.forceShutdown();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
