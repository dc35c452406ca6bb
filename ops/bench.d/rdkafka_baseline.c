/*
 * Raw librdkafka baseline for ops/bench: the same work as trainyard-bench, timed over the
 * same window (produce: first enqueue to flush done; consume: first record to the Nth),
 * with the same client settings, so the Swift/raw ratio measures only the Swift module.
 *
 *   rdkafka_baseline produce|consume BROKERS TOPIC COUNT SIZE
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

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s produce|consume BROKERS TOPIC COUNT SIZE\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *topic = argv[3];
    long count = atol(argv[4]), size = atol(argv[5]);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[2]);
    if (strcmp(mode, "produce") == 0) {
        set(conf, "enable.idempotence", "true");
        set(conf, "linger.ms", "5");
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk) { fprintf(stderr, "%s\n", errstr); return 1; }
        char *value = malloc(size);
        memset(value, 'x', size);
        char key[32];
        double start = now();
        for (long i = 0; i < count; i++) {
            int keylen = snprintf(key, sizeof key, "%ld", i);
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                     RD_KAFKA_V_VALUE(value, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 1);
            rd_kafka_poll(rk, 0);
        }
        rd_kafka_flush(rk, 60000);
        double seconds = now() - start;
        printf("raw-produce messages=%ld seconds=%.3f rate=%.0f\n", count, seconds, count / seconds);
        rd_kafka_destroy(rk);
        free(value);
    } else {
        char group[64];
        snprintf(group, sizeof group, "bench-raw-%ld", (long)time(NULL) ^ (long)clock());
        set(conf, "group.id", group);
        set(conf, "auto.offset.reset", "earliest");
        set(conf, "enable.auto.commit", "false");
        set(conf, "session.timeout.ms", "6000");
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        if (!rk) { fprintf(stderr, "%s\n", errstr); return 1; }
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
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
        printf("raw-consume messages=%ld seconds=%.3f rate=%.0f\n", received, seconds, received / seconds);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return 0;
}
