/**
 * A chat over bidirectional streams: starts a chat room provider and two members, alice and
 * bob, who talk in turn, then leave.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/chat/chat.ts
 *
 * With `--serve <port>` it only serves the room; with `--join <name> <host:port>` it joins one,
 * sends each line typed on stdin, and prints what everyone says.
 *
 * @module
 */
import {
  type BidiStreamMethod,
  ConsoleLogger,
  loadProto,
  RpcChannel,
  RpcProvider,
} from "../../mod.ts";
import setup, { type ChatMessage } from "./chat_room.ts";
import { Mailbox } from "./mailbox.ts";

interface ChatStub {
  Chat: BidiStreamMethod<ChatMessage, ChatMessage>;
}

const root = await loadProto(new URL("./chat.proto", import.meta.url));
const service = root.lookupService("chat.ChatRoom");
const logger = new ConsoleLogger("WARN");

/** A member: what it says goes through `say`; what it hears is printed and awaited by `hear`. */
function member(channel: RpcChannel, name: string) {
  const outgoing = new Mailbox<ChatMessage>();
  const heard: ChatMessage[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const stream = channel.stub<ChatStub>(service).Chat(outgoing, {
    metadata: { name },
    timeoutMs: 0,
  });
  const listening = (async () => {
    for await (const msg of stream) {
      heard.push(msg);
      console.log(`[${name}] ${msg.from}: ${msg.text}`);
      for (const w of waiters.splice(0)) {
        if (msg.text === w.text) w.resolve();
        else waiters.push(w);
      }
    }
  })();
  return {
    say: (text: string) => outgoing.put({ from: name, text }),
    hear: (text: string) =>
      heard.some((m) => m.text === text) ? Promise.resolve() : new Promise<void>((resolve) => {
        waiters.push({ text, resolve });
      }),
    leave: async () => {
      outgoing.close(); // half-close: the room ends this member's stream
      await listening;
    },
  };
}

async function demo(): Promise<void> {
  await using provider = new RpcProvider({ host: "127.0.0.1", port: 0, logger });
  await setup(provider);
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address, logger });
  const alice = member(channel, "alice");
  await alice.hear("alice joined");
  const bob = member(channel, "bob");
  await alice.hear("bob joined");
  alice.say("hi bob");
  await bob.hear("hi bob");
  bob.say("hi alice, bye");
  await alice.hear("hi alice, bye");
  await bob.leave();
  await alice.hear("bob left");
  await alice.leave();
  console.log("chat: done");
}

async function serve(port: number): Promise<void> {
  const provider = new RpcProvider({ host: "127.0.0.1", port, logger });
  await setup(provider);
  await provider.start();
  console.log(`chat room listening on ${provider.address.host}:${provider.address.port}`);
  Deno.addSignalListener("SIGINT", () => void provider.close({ graceMs: 1000 }));
  await provider.run();
}

async function join(name: string, address: string): Promise<void> {
  await using channel = new RpcChannel({ address, logger, timeoutMs: 0 });
  const you = member(channel, name);
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    for (const text of line.split("\n")) if (text.trim()) you.say(text.trim());
  }
  await you.leave();
}

const [mode, a, b] = Deno.args;
if (mode === "--serve") await serve(Number(a ?? 0));
else if (mode === "--join" && a && b) await join(a, b);
else if (mode === undefined) await demo();
else {
  console.error("usage: chat.ts [--serve <port> | --join <name> <host:port>]");
  Deno.exit(2);
}
