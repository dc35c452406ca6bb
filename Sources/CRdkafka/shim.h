// librdkafka for Swift: the library's header plus the macros Swift cannot import.
#include <librdkafka/rdkafka.h>

/// RD_KAFKA_PARTITION_UA: let the partitioner choose (a cast macro, not importable).
static const int32_t crdkafka_partition_unassigned = RD_KAFKA_PARTITION_UA;
/// RD_KAFKA_OFFSET_BEGINNING / END / STORED / INVALID.
static const int64_t crdkafka_offset_beginning = RD_KAFKA_OFFSET_BEGINNING;
static const int64_t crdkafka_offset_end = RD_KAFKA_OFFSET_END;
static const int64_t crdkafka_offset_stored = RD_KAFKA_OFFSET_STORED;
static const int64_t crdkafka_offset_invalid = RD_KAFKA_OFFSET_INVALID;
