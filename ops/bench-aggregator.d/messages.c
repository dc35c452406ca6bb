/*
 * Raw librdkafka side of ops/bench-aggregator.
 *
 *   messages produce BROKERS TOPIC FILE          FILE: one "key<TAB>value" line per message
 *   messages consume BROKERS COUNT TOPIC...      reads COUNT messages of the topics in a fresh group
 *
 * produce keys messages like Trainyard's producers (murmur2_random, idempotent, linger 5 ms).
 * consume is the baseline the aggregator is compared with: the same client settings as the
 * ops/bench C consumer, timed from the first record to the COUNTth, and prints
 * "raw seconds=… msgs_per_s=…".
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s\n", name, errstr);
        exit(2);
    }
}

static int produce(const char *brokers, const char *topic, const char *path) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "enable.idempotence", "true");
    set(conf, "linger.ms", "5");
    set(conf, "partitioner", "murmur2_random");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) { fprintf(stderr, "%s\n", errstr); return 1; }
    FILE *input = fopen(path, "r");
    if (!input) { perror(path); return 1; }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, input)) > 0) {
        if (line[length - 1] == '\n') line[--length] = 0;
        char *tab = memchr(line, '\t', length);
        if (!tab) continue;
        size_t keylen = tab - line;
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(line, keylen),
                                 RD_KAFKA_V_VALUE(tab + 1, length - keylen - 1), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 1);
        rd_kafka_poll(rk, 0);
    }
    free(line);
    fclose(input);
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) { fprintf(stderr, "flush timed out\n"); return 1; }
    rd_kafka_destroy(rk);
    return 0;
}

static int consume(const char *brokers, long count, int topics_count, char **topics) {
    char errstr[512], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    snprintf(group, sizeof group, "bench-aggregator-raw-%ld", (long)time(NULL) ^ (long)clock());
    set(conf, "group.id", group);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    set(conf, "session.timeout.ms", "6000");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) { fprintf(stderr, "%s\n", errstr); return 1; }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(topics_count);
    for (int i = 0; i < topics_count; i++) rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    long received = 0;
    double start = 0;
    while (received < count) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(rk, 100);
        if (!message) continue;
        if (!message->err) {
            if (received == 0) start = now();
            received++;
        }
        rd_kafka_message_destroy(message);
    }
    double seconds = now() - start;
    printf("raw seconds=%.3f msgs_per_s=%.0f\n", seconds, received / seconds);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "produce") == 0) return produce(argv[2], argv[3], argv[4]);
    if (argc >= 5 && strcmp(argv[1], "consume") == 0) return consume(argv[2], atol(argv[3]), argc - 4, argv + 4);
    fprintf(stderr, "usage: %s produce BROKERS TOPIC FILE | consume BROKERS COUNT TOPIC...\n", argv[0]);
    return 2;
}
