// SQLite for Swift: the library's header plus the macros Swift cannot import.
#include <sqlite3.h>

/// SQLITE_TRANSIENT: SQLite copies bound text/blobs before the call returns.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
