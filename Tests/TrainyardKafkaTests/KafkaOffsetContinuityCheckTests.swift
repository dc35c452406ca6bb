import Foundation
import Testing
import TrainyardTesting

@testable import TrainyardKafka

/// The offset-continuity check alone, with instants chosen by the test.
@Suite("Kafka offset continuity check")
struct KafkaOffsetContinuityCheckTests {
    let partition = KafkaTopicPartition(topic: "t", partition: 0)
    let other = KafkaTopicPartition(topic: "t", partition: 1)
    let logger = TestEnvironment.logger("continuity-check-tests")
    let start = ContinuousClock.now

    func records(_ partition: KafkaTopicPartition, _ offsets: [Int64]) -> [KafkaConsumerEvent] {
        offsets.map {
            .message(
                KafkaMessage(topic: partition.topic, partition: partition.partition, offset: $0, key: nil, value: Data(), headers: [], timestamp: nil)
            )
        }
    }

    func offsets(_ batch: [KafkaConsumerEvent]) -> [Int64] {
        batch.compactMap { if case .message(let message) = $0 { message.offset } else { nil } }
    }

    @Test("consecutive offsets pass untouched; the first record sets the start when none is known")
    func consecutive() {
        var check = KafkaOffsetContinuity()
        check.start(partition, at: nil)
        var batch = records(partition, [7, 8, 9])
        #expect(check.filter(&batch, now: start, logger: logger).isEmpty)
        #expect(offsets(batch) == [7, 8, 9])
        #expect(check.expected[partition] == 10)
    }

    @Test("a gap withholds that partition's records from the gap on and asks for a re-read; other partitions go on")
    func gapWithheld() {
        var check = KafkaOffsetContinuity()
        check.start(partition, at: 5)
        check.start(other, at: 0)
        var batch = records(partition, [5, 6, 9, 10]) + records(other, [0, 1]) + records(partition, [11])
        let rereads = check.filter(&batch, now: start, logger: logger)
        #expect(rereads.map(\.0) == [partition] && rereads.map(\.1) == [7])
        #expect(offsets(batch) == [5, 6, 0, 1])
        #expect(check.expected[partition] == 7)

        // The re-read brings the missing records: delivered in order, the suspicion cleared.
        var reread = records(partition, [7, 8, 9, 10, 11])
        #expect(check.filter(&reread, now: start + .milliseconds(5), logger: logger).isEmpty)
        #expect(offsets(reread) == [7, 8, 9, 10, 11])
        #expect(check.suspected[partition] == nil)
    }

    @Test("the starting offset of an assignment counts: a first record past it is a gap")
    func gapAtStart() {
        var check = KafkaOffsetContinuity()
        check.start(partition, at: 984)
        var batch = records(partition, [988, 989])
        #expect(check.filter(&batch, now: start, logger: logger).map(\.1) == [984])
        #expect(offsets(batch).isEmpty)
    }

    @Test("a gap is accepted only when re-reads still show it after the confirmation delay")
    func persistentGapAccepted() {
        var check = KafkaOffsetContinuity()
        check.start(partition, at: 0)
        var first = records(partition, [0, 2])
        #expect(check.filter(&first, now: start, logger: logger).map(\.1) == [1])
        var early = records(partition, [2, 3])
        #expect(check.filter(&early, now: start + KafkaOffsetContinuity.confirmationDelay / 2, logger: logger).map(\.1) == [1])
        #expect(offsets(early).isEmpty)
        var late = records(partition, [2, 3])
        #expect(check.filter(&late, now: start + KafkaOffsetContinuity.confirmationDelay, logger: logger).isEmpty)
        #expect(offsets(late) == [2, 3])
        #expect(check.expected[partition] == 4)
    }

    @Test("records below the expected offset were delivered already and are dropped")
    func duplicatesDropped() {
        var check = KafkaOffsetContinuity()
        check.start(partition, at: 3)
        var batch = records(partition, [1, 2, 3, 4])
        #expect(check.filter(&batch, now: start, logger: logger).isEmpty)
        #expect(offsets(batch) == [3, 4])
    }

    @Test("a forgotten partition starts afresh when assigned again")
    func forgetAndReassign() {
        var check = KafkaOffsetContinuity()
        check.start(partition, at: 0)
        var batch = records(partition, [0, 5])
        _ = check.filter(&batch, now: start, logger: logger)
        check.forget([partition])
        #expect(check.expected[partition] == nil && check.suspected[partition] == nil)
        check.start(partition, at: nil)
        var again = records(partition, [40])
        #expect(check.filter(&again, now: start, logger: logger).isEmpty)
        #expect(offsets(again) == [40])
    }
}
