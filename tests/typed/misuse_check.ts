/**
 * Type tests of the generated modules: `deno task check` type-checks this file (it is never
 * run). Each misuse carries `// @ts-expect-error`, so a misuse the type checker stops catching
 * fails the check ("Unused '@ts-expect-error' directive"); the lines without it must stay
 * accepted.
 *
 * @module
 */
import type { RpcChannel, RpcProvider, ServiceImpl, TypedStub } from "../../mod.ts";
import { type Item, Item_Kind, type ItemInit, ShopService } from "./_gen/shop_pb.ts";
import { Status } from "./_gen/money_pb.ts";

type Shop = TypedStub<typeof ShopService>;

/** Calls: requests are the `Init` types, responses the received types. */
export async function calls(channel: RpcChannel): Promise<void> {
  const shop: Shop = channel.stub(ShopService);

  // Accepted: a 64-bit integer as a bigint, a number or a decimal string.
  await shop.GetItem({ id: 5n });
  await shop.GetItem({ id: 5 });
  await shop.GetItem({ id: "18446744073709551615" });
  // Accepted: the lowerCamelCase alias, call options.
  await shop.listAll({}, { timeoutMs: 100 });

  // @ts-expect-error: misspelled field
  await shop.GetItem({ idd: 5 });
  // @ts-expect-error: wrong field type
  await shop.GetItem({ id: true });
  // @ts-expect-error: misspelled method
  await shop.GetItm({ id: 5 });
  // @ts-expect-error: an alias that does not exist (`ListAll` has `listAll`, not `listall`)
  await shop.listall({});
  // @ts-expect-error: the request is not optional
  await shop.GetItem();

  const item = await shop.GetItem({ id: 1 });
  // @ts-expect-error: wrong response use (a string field as a number)
  const n: number = item.name;
  // @ts-expect-error: a 64-bit integer arrives as a decimal string
  const id: bigint = item.id;
  // @ts-expect-error: an absent sub-message is null
  const units: string = item.price.units;
  // @ts-expect-error: a map value may be missing (noUncheckedIndexedAccess)
  const shelf: number = item.stock["a"].shelf;
  // @ts-expect-error: enums arrive by name
  const kind: number = item.kind;
  void [n, id, units, shelf, kind];

  // Accepted: every field has its receiver type.
  const name: string = item.name;
  const photo: Uint8Array = item.photo;
  const kindName: "KIND_UNSPECIFIED" | "KIND_FOOD" | "KIND_TOOL" = item.kind;
  const history: string[] = item.history;
  const seconds: string | undefined = item.added?.seconds;
  const note: string | undefined = item.note;
  void [name, photo, kindName, history, seconds, note];
  // A oneof narrows on the member that is set.
  if (item.amount !== undefined) {
    const currency: string = item.amount.currency;
    // @ts-expect-error: another member of the same oneof is not set
    const percent: number = item.percent;
    void [currency, percent];
  }
}

/** Request shapes: oneofs, enums, maps, nested messages. */
export async function requests(shop: Shop, received: Item): Promise<void> {
  const upload = async function* (): AsyncIterable<ItemInit> {
    yield { percent: 10 };
    // @ts-expect-error: two members of one oneof at once
    yield { percent: 10, free: true };
    yield { percent: 10, country: "NZ" }; // members of two oneofs: accepted
    yield { kind: "KIND_FOOD", status: Status.STATUS_ACTIVE };
    yield { kind: Item_Kind.KIND_TOOL, status: 2 };
    // @ts-expect-error: no such enum value name
    yield { kind: "KIND_TOY" };
    // @ts-expect-error: no such enum value number
    yield { kind: 7 };
    yield { counts: { 1: 5n }, stock: { a: { shelf: 2 } }, price: null };
    // @ts-expect-error: a map value of the wrong type
    yield { stock: { a: { shelf: "2" } } };
    // @ts-expect-error: a misspelled field of a nested message
    yield { price: { curency: "EUR" } };
    // @ts-expect-error: a repeated field needs an array
    yield { tags: "x" };
    // Accepted: what a receiver got, sent on (received types are valid Init types).
    yield received;
  };
  const summary = await shop.Upload(upload());
  const count: number = summary.count;
  void count;
  // @ts-expect-error: a client-streaming method takes an iterable of requests
  await shop.Upload({ id: 1 });

  for await (const change of shop.WatchPrices({ ids: [1n, "2"] })) {
    const price = change.price;
    // @ts-expect-error: a stream yields the received type (price may be null)
    const currency: string = price.currency;
    void currency;
  }
  const stream = shop.Chat(upload() as unknown as AsyncIterable<{ id: number }>);
  stream.cancel();
}

/** Implementations: every method, requests as received, responses as the `Init` types. */
export function handlers(provider: RpcProvider): void {
  const impl: ServiceImpl<typeof ShopService> = {
    GetItem: (req) => ({ id: req.id, name: "hammer", kind: "KIND_TOOL" }),
    getItem: async (req, ctx) => {
      await Promise.resolve(ctx.deadline);
      return { id: req.id };
    },
    ListAll: () => ({ ids: [1n, 2, "3"] }),
    async *WatchPrices(req) {
      for (const id of req.ids) yield { id, price: { currency: "EUR", units: 1n } };
    },
    async Upload(items) {
      let count = 0;
      for await (const item of items) count += item.tags.length;
      return { count };
    },
    async *Chat(changes) {
      for await (const c of changes) yield c;
    },
  };
  provider.notifyService(ShopService, impl);

  // @ts-expect-error: a handler missing a method (Chat)
  provider.notifyService(ShopService, {
    GetItem: () => ({}),
    getItem: () => ({}),
    ListAll: () => ({}),
    WatchPrices: async function* () {},
    Upload: () => ({}),
  });
  provider.notifyService(ShopService, {
    ...impl,
    // @ts-expect-error: a handler returning a wrong shape
    GetItem: () => ({ name: 5 }),
  });
  provider.notifyService(ShopService, {
    ...impl,
    // @ts-expect-error: a handler returning an unknown field
    GetItem: () => ({ nmae: "x" }),
  });
  provider.notifyService(ShopService, {
    ...impl,
    // @ts-expect-error: a handler misusing its request (a 64-bit integer is a string)
    GetItem: (req) => ({ name: req.id.toFixed() }),
  });
  provider.notifyService(ShopService, {
    ...impl,
    // @ts-expect-error: a server-streaming handler yields responses, it does not return one
    WatchPrices: () => ({ id: 1 }),
  });
  provider.notifyService(ShopService, {
    ...impl,
    // @ts-expect-error: aliases are stub names only; an implementation uses the .proto names
    listAll: () => ({}),
  });
}
