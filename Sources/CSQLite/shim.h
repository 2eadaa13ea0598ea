#include <sqlite3.h>

// Debian builds SQLite to count every allocation behind one global mutex, which all of the
// platform's connections then contend for; counting is off as long as nothing is open yet.
// (sqlite3_config is variadic, which Swift cannot call.)
static inline int cmc_sqlite3_stop_counting_memory(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
