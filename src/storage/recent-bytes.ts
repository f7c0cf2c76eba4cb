// The bytes of result images saved in the last little while, kept in memory. A synchronous
// request (OpenAI's b64_json, a chat answer) reads its images back the moment its task ends, most
// often in the process that made them; from here that is a map lookup instead of a file read (or
// an S3 GET). Bounded by total size and age; the blob store stays the source of truth.
export class RecentBytes {
  private readonly entries = new Map<string, { data: Uint8Array; at: number }>();
  private total = 0;

  constructor(
    private readonly maxBytes = 32 * 1024 * 1024,
    private readonly maxAgeMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  put(key: string, data: Uint8Array): void {
    this.delete(key);
    if (data.byteLength > this.maxBytes / 4) return; // one huge image would push out everything else
    this.entries.set(key, { data, at: this.now() });
    this.total += data.byteLength;
    this.evict();
  }

  get(key: string): Uint8Array | undefined {
    this.evict();
    return this.entries.get(key)?.data;
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.data.byteLength;
  }

  /** Oldest first (a Map keeps insertion order): over the size, or past the age. */
  private evict(): void {
    const cutoff = this.now() - this.maxAgeMs;
    for (const [key, e] of this.entries) {
      if (this.total <= this.maxBytes && e.at >= cutoff) break;
      this.entries.delete(key);
      this.total -= e.data.byteLength;
    }
  }
}
