/**
 * Reads remembered for one request only (keyed by its request object, so they go with it): the same row asked twice
 * in a request is read once, and the next request reads it again, so a change counts at once on every instance. A
 * failed read is not remembered: the next caller asks again.
 */
export class RequestMemo<V> {
  private readonly reads = new WeakMap<object, Map<string, Promise<V>>>();

  read(req: object | undefined, key: string, load: () => Promise<V>): Promise<V> {
    if (!req) return load();
    let reads = this.reads.get(req);
    if (!reads) this.reads.set(req, (reads = new Map()));
    let read = reads.get(key);
    if (!read) {
      read = load();
      reads.set(key, read);
      read.catch(() => reads.delete(key));
    }
    return read;
  }

  /** After a write in this request: its next read asks the database. */
  forget(req: object | undefined, key: string): void {
    if (req) this.reads.get(req)?.delete(key);
  }
}
