import { Node } from "../node.ts";

let shared: { node: Promise<Node>; users: number } | undefined;

/** The local node used when a connection is given none: started on first use. */
export function acquireDefaultNode(): Promise<Node> {
  if (!shared) {
    const node = Node.start({});
    shared = { node, users: 0 };
    node.catch(() => shared = undefined);
  }
  shared.users++;
  return shared.node;
}

/** Gives back the default node; closed when its last user gives it back. */
export async function releaseDefaultNode(): Promise<void> {
  if (!shared) return;
  if (--shared.users > 0) return;
  const { node } = shared;
  shared = undefined;
  await (await node).close();
}
