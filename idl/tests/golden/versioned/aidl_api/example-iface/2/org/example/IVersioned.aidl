package org.example;

/** A frozen interface: its version and hash come from the dump's directory and `.hash`. */
interface IVersioned {
    int twice(int x);
}
