package org.afbus.extra;

import org.afbus.extra.GenericBox;
import org.afbus.extra.Keywords;

/** Nested types, keyword names, generic arguments and union tags. */
interface INested {
    const int BASE = 7;
    const int DERIVED = BASE * 2 + Keywords.type;
    const long WIDE = 0xFFFFFFFFL;
    const int WRAPPED = 0xFFFFFFFF;
    const byte SMALL = 0xFFu8;
    const boolean CHECK = BASE > 3 ? (1 << 2) == 4 : false;
    const String JOINED = "a" + "b";
    const char LETTER = 'q';
    const float HALF = 0.5f;
    const double THIRD = 1.0 / 3.0;

    interface ICallback {
        void done(in Result r);
    }

    @Backing(type="long")
    enum State {
        IDLE,
        BUSY = 1L << 33,
        DONE,
    }

    parcelable Result {
        State state = State.BUSY;
        @nullable String message;
        Choice choice;
    }

    union Choice {
        State state = State.DONE;
        Result[] nested;
    }

    Choice.Tag tagOf(in Choice c);
    GenericBox<String, Result> box(in GenericBox<String, Result> b);
    Keywords keywords(in Keywords k, int type, String match);
    void self(ICallback callback);
    INested.Result fullyQualified(in org.afbus.extra.INested.Result r);
}
