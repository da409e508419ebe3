package afbus.examples;

/** File descriptors across processes: a pipe end to use, a sealed memfd to read without a copy. */
interface IFiles {
    /** Writes `text` into `fd` (the write end of the caller's pipe). */
    void writeTo(in ParcelFileDescriptor fd, String text);
    /** Maps `blob`, a sealed memfd (its seals fix its size), and returns the sum of its bytes. */
    long checksum(in ParcelFileDescriptor blob);
}
