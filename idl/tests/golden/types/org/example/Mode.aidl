package org.example;

@Backing(type="byte")
enum Mode {
    SLOW,
    FAST = 4,
    /** After FAST. */
    TURBO,
}
