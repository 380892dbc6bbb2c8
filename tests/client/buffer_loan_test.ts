/**
 * `BufferLoan` end to end, over loopback: a response decoded under a loan keeps its `bytes`
 * fields as views into the connection's receive buffer, which is neither read into again nor
 * handed out again by the pool while the loan holds it, however many other responses the same
 * connection receives meanwhile.
 */
import assert from "node:assert/strict";
import {
  BufferLoan,
  Code,
  parseProto,
  RpcChannel,
  RpcError,
  RpcProvider,
  type StubMethod,
} from "../../mod.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { assertBlob, type Blob, blob, settled } from "../_helpers/patterned_blobs.ts";
import { isCode } from "../_helpers/is_code.ts";

const root = parseProto(`syntax = "proto3"; package loantest;
  message Want { uint32 id = 1; uint32 size = 2; }
  message Blob { uint32 id = 1; bytes data = 2; repeated bytes parts = 3; }
  message Note { uint32 id = 1; string text = 2; }
  service Maker {
    rpc Make(Want) returns (Blob);
    rpc MakeNote(Want) returns (Note);
    rpc Fail(Want) returns (Blob);
    rpc Stall(Want) returns (Blob);
    rpc Missing(Want) returns (Blob);
  }`);
const maker = root.lookupService("loantest.Maker");

/** Response payloads several of which arrive in one read (the read-buffer path). */
const SMALL = 300;
/** Response payloads read straight into a body of their own (the direct-read path). */
const LARGE = 100_000;

interface Want {
  id: number;
  size: number;
}
interface MakerStub {
  Make: StubMethod<Want, Blob>;
  MakeNote: StubMethod<Want, { id: number; text: string }>;
  Fail: StubMethod<Want, Blob>;
  Stall: StubMethod<Want, Blob>;
  Missing: StubMethod<Want, Blob>;
}

interface Fixture {
  stub: MakerStub;
  channel: RpcChannel;
  provider: RpcProvider;
  logger: CaptureLogger;
}

async function withMaker(
  options: { legacy?: boolean },
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const logger = new CaptureLogger();
  const provider = new RpcProvider({ port: 0, legacy: options.legacy === true, logger });
  const stalled: Array<() => void> = [];
  provider.notifyService(maker, {
    Make: (req) => blob(req.id as number, req.size as number),
    MakeNote: (req) => ({ id: req.id, text: `note ${req.id}` }),
    Fail: () => {
      throw new RpcError(Code.FAILED_PRECONDITION, "no blob today");
    },
    // Answers only when the test ends: its callers' deadlines pass first.
    Stall: (req) =>
      new Promise((resolve) =>
        stalled.push(() => resolve(blob(req.id as number, req.size as number)))
      ),
  });
  await provider.start();
  // One channel to one address: every call shares one connection.
  const channel = new RpcChannel({ address: provider.address, logger: new CaptureLogger() });
  try {
    const stub = channel.stub<MakerStub>(maker);
    await warmUp(stub);
    await fn({ stub, channel, provider, logger });
  } finally {
    for (const answer of stalled) answer();
    await channel.close();
    await provider.close({ graceMs: 0 });
  }
}

let nextId = 1000;

/**
 * `count` calls at once, all checked: every third under a loan of its own released once all
 * are checked, the rest without a loan.
 */
async function burst(stub: MakerStub, count: number, size: number): Promise<void> {
  const ids = Array.from({ length: count }, () => nextId += 3);
  const loans = ids.map((_, i) => (i % 3 === 0 ? new BufferLoan() : undefined));
  try {
    const res = await settled(ids.map((id, i) => {
      const loan = loans[i];
      return stub.Make({ id, size }, loan === undefined ? {} : { loan });
    }));
    res.forEach((r, i) => assertBlob(r, ids[i]!, size));
  } finally {
    for (const loan of loans) loan?.release();
  }
}

/**
 * Grows the caller's read buffer to its largest size (reads that fill it make it grow), so the
 * buffers swapped in later are all of one size and reused from the pool.
 */
async function warmUp(stub: MakerStub): Promise<void> {
  using loan = new BufferLoan(); // starts lending on the connection
  assertBlob(await stub.Make({ id: 1, size: 10 }, { loan }), 1, 10);
  loan.release();
  for (let i = 0; i < 2; i++) {
    const ids = Array.from({ length: 500 }, () => nextId += 3);
    const res = await settled(ids.map((id) => stub.Make({ id, size: 1500 })));
    res.forEach((r, i) => assertBlob(r, ids[i]!, 1500));
  }
}

/**
 * Responses held by loans (`held` calls at once, each under a loan of its own) stay intact
 * while rounds of other calls are answered on the same connection; between rounds all but the
 * last loan are released one by one, so a buffer shared by several loans loses leases while
 * another loan still holds it.
 */
async function heldWhileOthersAnswered(
  f: Fixture,
  size: number,
  held: number,
  burstCalls: number,
): Promise<void> {
  const ids = Array.from({ length: held }, () => nextId += 3);
  const loans = ids.map(() => new BufferLoan());
  try {
    const res = await settled(ids.map((id, i) => f.stub.Make({ id, size }, { loan: loans[i]! })));
    res.forEach((r, i) => assertBlob(r, ids[i]!, size));
    for (const loan of loans) assert.equal(loan.size, 1);
    for (let i = 0; i < held; i++) {
      await burst(f.stub, burstCalls, size);
      await burst(f.stub, burstCalls, size);
      for (let j = i; j < held; j++) assertBlob(res[j]!, ids[j]!, size, `(held, round ${i})`);
      // The last loan is held to the end; the others go back first to last.
      if (i < held - 1) loans[i]!.release();
    }
  } finally {
    for (const loan of loans) loan.release();
  }
}

Deno.test("a loaned small response stays intact while many other responses are read on the connection", async () => {
  await withMaker({}, async (f) => {
    await heldWhileOthersAnswered(f, SMALL, 5, 30);
    await heldWhileOthersAnswered(f, SMALL, 5, 30);
    assert.deepEqual(f.logger.problems, []);
  });
});

Deno.test("a loaned response of 64 KiB and more stays intact while other large responses are read", async () => {
  await withMaker({}, async (f) => {
    await heldWhileOthersAnswered(f, LARGE, 3, 6);
    await heldWhileOthersAnswered(f, 70_000, 3, 6);
    assert.deepEqual(f.logger.problems, []);
  });
});

Deno.test("one loan over small and large responses keeps them all while both kinds are read", async () => {
  await withMaker({}, async (f) => {
    const loan = new BufferLoan();
    try {
      const small = Array.from({ length: 6 }, () => nextId += 3);
      const large = Array.from({ length: 3 }, () => nextId += 3);
      const res = await settled([
        ...small.map((id) => f.stub.Make({ id, size: SMALL }, { loan })),
        ...large.map((id) => f.stub.Make({ id, size: LARGE }, { loan })),
      ]);
      assert.equal(loan.size, small.length + large.length);
      for (let round = 0; round < 3; round++) {
        await settled([burst(f.stub, 30, SMALL), burst(f.stub, 4, LARGE)]);
        small.forEach((id, i) => assertBlob(res[i]!, id, SMALL, `(round ${round})`));
        large.forEach((id, i) => assertBlob(res[small.length + i]!, id, LARGE, `(round ${round})`));
      }
    } finally {
      loan.release();
    }
    assert.equal(loan.size, 0);
  });
});

Deno.test("loan.size counts the buffers lent to it and drops to 0 on release", async () => {
  await withMaker({}, async (f) => {
    for (const size of [SMALL, LARGE]) {
      const loan = new BufferLoan();
      assert.equal(loan.size, 0);
      assertBlob(await f.stub.Make({ id: 7, size }, { loan }), 7, size);
      assert.equal(loan.size, 1);
      assertBlob(await f.stub.Make({ id: 8, size }, { loan }), 8, size);
      assert.equal(loan.size, 2);
      loan.release();
      assert.equal(loan.size, 0);
      loan.release(); // idempotent
      assert.equal(loan.size, 0);
    }
    // A response type without bytes fields borrows nothing.
    const loan = new BufferLoan();
    assert.deepEqual(await f.stub.MakeNote({ id: 9, size: 0 }, { loan }), {
      id: 9,
      text: "note 9",
    });
    assert.equal(loan.size, 0);
    // An empty bytes field is still decoded under the loan.
    const empty = await f.stub.Make({ id: 10, size: 0 }, { loan });
    assert.equal(empty.data.length, 0);
    assert.equal(loan.size, 1);
    loan.release();
    assert.equal(loan.size, 0);
  });
});

Deno.test("a loan declared with using is released at the end of its block", async () => {
  await withMaker({}, async (f) => {
    let kept: BufferLoan | undefined;
    for (const size of [SMALL, LARGE]) {
      {
        using loan = new BufferLoan();
        kept = loan;
        assertBlob(await f.stub.Make({ id: 11, size }, { loan }), 11, size);
        assert.equal(loan.size, 1);
      }
      assert.equal(kept.size, 0);
    }
    // The buffers it gave back are read into again, and what is read is right.
    await burst(f.stub, 30, SMALL);
    await burst(f.stub, 4, LARGE);
  });
});

Deno.test("a loan released can be used again, for call after call", async () => {
  await withMaker({}, async (f) => {
    const loan = new BufferLoan();
    for (let i = 0; i < 20; i++) {
      const size = i % 4 === 3 ? LARGE : SMALL;
      const id = nextId += 3;
      const res = await f.stub.Make({ id, size }, { loan });
      assert.equal(loan.size, 1);
      await burst(f.stub, 6, SMALL);
      assertBlob(res, id, size, `(use ${i})`);
      loan.release();
      assert.equal(loan.size, 0);
    }
  });
});

Deno.test("a call that fails under a loan lends it nothing, and the connection goes on", async () => {
  await withMaker({}, async (f) => {
    const loan = new BufferLoan();
    await assert.rejects(
      f.stub.Missing({ id: 1, size: SMALL }, { loan }),
      isCode(Code.UNIMPLEMENTED),
    );
    assert.equal(loan.size, 0);
    await assert.rejects(
      f.stub.Fail({ id: 2, size: SMALL }, { loan }),
      isCode(Code.FAILED_PRECONDITION, "no blob today"),
    );
    assert.equal(loan.size, 0);
    await assert.rejects(
      f.stub.Stall({ id: 3, size: SMALL }, { loan, timeoutMs: 30 }),
      isCode(Code.DEADLINE_EXCEEDED),
    );
    assert.equal(loan.size, 0);
    // The same loan then lends as usual, and other calls are unaffected.
    const id = nextId += 3;
    const res = await f.stub.Make({ id, size: SMALL }, { loan });
    assert.equal(loan.size, 1);
    await burst(f.stub, 30, SMALL);
    assertBlob(res, id, SMALL);
    loan.release();
    assert.equal(loan.size, 0);
  });
});

Deno.test("a loan on a legacy channel gets the right bytes and holds nothing", async () => {
  await withMaker({ legacy: true }, async (f) => {
    const legacy = new RpcChannel({
      address: f.provider.address,
      protocol: "mprpc-legacy",
      logger: new CaptureLogger(),
    });
    try {
      const stub = legacy.stub<MakerStub>(maker);
      const loan = new BufferLoan();
      const ids = Array.from({ length: 6 }, () => nextId += 3);
      const sizes = ids.map((_, i) => (i % 2 === 0 ? SMALL : LARGE));
      const res = await settled(ids.map((id, i) => stub.Make({ id, size: sizes[i]! }, { loan })));
      res.forEach((r, i) => assertBlob(r, ids[i]!, sizes[i]!));
      assert.equal(loan.size, 0);
      // Native calls on the same provider (a sniffed connection) still lend.
      await heldWhileOthersAnswered(f, SMALL, 3, 20);
      res.forEach((r, i) => assertBlob(r, ids[i]!, sizes[i]!));
    } finally {
      await legacy.close();
    }
  });
});
