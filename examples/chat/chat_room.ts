/**
 * The chat room's service: `ChatRoom.Chat` is a bidirectional stream per member. What a member
 * sends is broadcast to every member; a member leaves by ending its request stream (or
 * cancelling), and the room tells the others.
 *
 * @module
 */
import { type CallContext, loadProto, type RpcProvider } from "../../mod.ts";
import { Mailbox } from "./mailbox.ts";

/** One chat message. */
export interface ChatMessage {
  from: string;
  text: string;
}

/** The members of one room and their mailboxes. */
export class ChatRoom {
  #members = new Set<Mailbox<ChatMessage>>();

  /** Sends `msg` to every member. */
  broadcast(msg: ChatMessage): void {
    for (const m of this.#members) m.put(msg);
  }

  /** The handler of `Chat`: reads the member's messages, streams everyone's back. */
  async *chat(messages: AsyncIterable<ChatMessage>, ctx: CallContext): AsyncGenerator<ChatMessage> {
    const mailbox = new Mailbox<ChatMessage>();
    this.#members.add(mailbox);
    let name = ctx.metadata["name"] ?? "someone";
    this.broadcast({ from: "room", text: `${name} joined` });
    // Reads what the member says until it half-closes (or the call is cancelled: the iteration
    // throws the RpcError of ctx.signal), then ends the member's own stream.
    const reading = (async () => {
      try {
        for await (const m of messages) {
          this.broadcast({ from: name = m.from || name, text: m.text });
        }
      } catch {
        // Cancelled or timed out: the member is gone.
      } finally {
        mailbox.close();
      }
    })();
    try {
      yield* mailbox;
    } finally {
      this.#members.delete(mailbox);
      await reading;
      this.broadcast({ from: "room", text: `${name} left` });
    }
  }
}

/** Adds a `ChatRoom` service to `provider`. */
export default async function setup(provider: RpcProvider): Promise<void> {
  const root = await loadProto(new URL("./chat.proto", import.meta.url));
  const room = new ChatRoom();
  provider.notifyService(root.lookupService("chat.ChatRoom"), {
    Chat: (messages: AsyncIterable<ChatMessage>, ctx: CallContext) => room.chat(messages, ctx),
  });
}
