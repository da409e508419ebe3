package org.example;

import org.example.Mode;
import org.example.Value;

/** A parcelable with defaults, a nested type and a recursive link. */
parcelable Config {
    const long MAX_SIZE = 1L << 40;

    parcelable Limit {
        int soft = 10;
        int hard = -1;
    }

    boolean enabled = true;
    byte level = 0x7f;
    char sep = ',';
    double ratio = 0.5;
    String name = "config";
    @nullable String comment;
    int[3] triple = {1, 2, 3};
    Mode mode = Mode.FAST;
    Value value;
    Limit limit;
    List<String> tags;
    @nullable(heap=true) Config parent;
}
