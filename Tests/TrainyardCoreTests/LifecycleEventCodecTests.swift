import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// `LifecycleEventCodec` and the wire conventions it shares (`WireFormat`).
@Suite("LifecycleEventCodec")
struct LifecycleEventCodecTests {
    static let jobID = JobID.derived(team: "ml-research", idempotencyKey: "events")

    static let fullEvent = LifecycleEvent(
        jobID: jobID, attempt: 2, state: .failed, source: .backend, occurredAt: Fixtures.submittedAt,
        team: "ml-research", backend: "sagemaker", resourceName: "ty-\(jobID)-2", exitCode: -9,
        failureClass: .infrastructure, reason: "OOMKilled: container exceeded 30 GiB \"memory\" ✗",
        workerID: "worker-7@host-b")

    static let bareEvent = LifecycleEvent(jobID: jobID, attempt: 0, state: .queued, source: .aggregator, occurredAt: Fixtures.submittedAt)

    @Test("round trip with every optional field set")
    func fullRoundTrip() throws {
        let bytes = try LifecycleEventCodec.encode(Self.fullEvent)
        #expect(try LifecycleEventCodec.decode(bytes) == Self.fullEvent)
        let text = String(decoding: bytes, as: UTF8.self)
        for fragment in [
            #""schema":1"#, #""jobId":"\#(Self.jobID)""#, #""attempt":2"#, #""state":"FAILED""#, #""source":"backend""#,
            #""failureClass":"INFRASTRUCTURE""#, #""exitCode":-9"#, #""workerId":"worker-7@host-b""#,
        ] {
            #expect(text.contains(fragment), "\(fragment) not in \(text)")
        }
    }

    @Test("round trip with no optional field set; absent fields are not written")
    func bareRoundTrip() throws {
        let bytes = try LifecycleEventCodec.encode(Self.bareEvent)
        #expect(try LifecycleEventCodec.decode(bytes) == Self.bareEvent)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"attempt":0,"jobId":"\#(Self.jobID)","occurredAt":"2025-11-29T04:05:06.789Z","schema":1,"source":"aggregator","state":"QUEUED"}"#
        )
    }

    @Test("every state, source and failure class round-trips", arguments: JobState.allCases)
    func everyState(state: JobState) throws {
        for source in EventSource.allCases {
            for failureClass in [nil, .userError, .infrastructure, .invalidRequest] as [FailureClass?] {
                let event = LifecycleEvent(
                    jobID: Self.jobID, attempt: 1, state: state, source: source,
                    occurredAt: Fixtures.submittedAt, failureClass: failureClass)
                #expect(try LifecycleEventCodec.decode(LifecycleEventCodec.encode(event)) == event)
            }
        }
    }

    @Test("timestamps keep their milliseconds")
    func milliseconds() throws {
        var generator = SplitMix64(seed: 0x6D73)
        var failures: [String] = []
        // Every millisecond of one second, then random milliseconds between 1970 and 2100.
        let millis =
            (0..<1000).map { 1_764_389_106_000 + Int64($0) }
            + (0..<2000).map { _ in Int64.random(in: 0..<4_102_444_800_000, using: &generator) }
        for ms in millis {
            let event = LifecycleEvent(
                jobID: Self.jobID, attempt: 1, state: .running, source: .worker,
                occurredAt: Fixtures.date(milliseconds: ms))
            let decoded = try LifecycleEventCodec.decode(LifecycleEventCodec.encode(event))
            let decodedMillis = Int64((decoded.occurredAt.timeIntervalSince1970 * 1000).rounded())
            if decodedMillis != ms || decoded != event {
                failures.append("\(ms) ms → \(WireFormat.formatTimestamp(event.occurredAt)) → \(decodedMillis) ms")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(millis.count) timestamps changed, e.g. \(failures.prefix(3))")
    }

    @Test(
        "the wire timestamp spells the milliseconds",
        arguments: [
            (1_764_389_106_789, "2025-11-29T04:05:06.789Z"),
            (1_764_389_106_000, "2025-11-29T04:05:06.000Z"),
            (1_764_389_106_001, "2025-11-29T04:05:06.001Z"),
            (1_764_389_106_999, "2025-11-29T04:05:06.999Z"),
            (0, "1970-01-01T00:00:00.000Z"),
        ] as [(Int64, String)])
    func wireTimestamp(milliseconds: Int64, expected: String) throws {
        #expect(WireFormat.formatTimestamp(Fixtures.date(milliseconds: milliseconds)) == expected)
        #expect(WireFormat.parseTimestamp(expected) == Fixtures.date(milliseconds: milliseconds))
    }

    @Test("re-encoding a decoded timestamp gives the same text (no drift through decode/encode cycles)")
    func noDrift() {
        var generator = SplitMix64(seed: 0xD1F7)
        var failures: [String] = []
        for _ in 0..<2000 {
            let millis = Int64.random(in: 0..<4_102_444_800_000, using: &generator)
            let text = WireFormat.formatTimestamp(Date(timeIntervalSince1970: Double(millis / 1000)))
                .replacingOccurrences(of: ".000Z", with: String(format: ".%03dZ", Int(millis % 1000)))
            guard let parsed = WireFormat.parseTimestamp(text) else {
                failures.append("\(text) does not parse")
                continue
            }
            let again = WireFormat.formatTimestamp(parsed)
            if again != text { failures.append("\(text) → \(again)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of 2000 wire timestamps change when re-encoded, e.g. \(failures.prefix(3))")
    }

    @Test("an unknown schema version is rejected")
    func unknownSchema() throws {
        var event = Self.fullEvent
        event.schema = 2
        let bytes = try LifecycleEventCodec.encode(event)
        #expect(throws: RequestRejection(code: .unknownSchema, reason: "event schema version 2 is not supported", jobID: Self.jobID)) {
            try LifecycleEventCodec.decode(bytes)
        }
    }

    @Test("a negative attempt is rejected")
    func negativeAttempt() throws {
        let event = LifecycleEvent(jobID: Self.jobID, attempt: -1, state: .running, source: .worker, occurredAt: Fixtures.submittedAt)
        let bytes = try LifecycleEventCodec.encode(event)
        #expect(throws: RequestRejection(code: .malformed, reason: "negative attempt", jobID: Self.jobID)) {
            try LifecycleEventCodec.decode(bytes)
        }
    }

    @Test(
        "unknown states, sources and bad ids are decoding errors",
        arguments: [
            #"{"attempt":1,"jobId":"JOB","occurredAt":"2025-11-29T04:05:06.789Z","schema":1,"source":"worker","state":"RUNNING"}"#,
            #"{"attempt":1,"jobId":"00000000000000000000000000","occurredAt":"2025-11-29T04:05:06.789Z","schema":1,"source":"worker","state":"PAUSED"}"#,
            #"{"attempt":1,"jobId":"00000000000000000000000000","occurredAt":"2025-11-29T04:05:06.789Z","schema":1,"source":"human","state":"RUNNING"}"#,
            #"{"attempt":1,"jobId":"00000000000000000000000000","occurredAt":"yesterday","schema":1,"source":"worker","state":"RUNNING"}"#,
            #"{"attempt":1,"jobId":"00000000000000000000000000","occurredAt":"2025-11-29T04:05:06.789Z","source":"worker","state":"RUNNING"}"#,
        ])
    func badEvents(json: String) {
        #expect(throws: DecodingError.self) { try LifecycleEventCodec.decode(Data(json.utf8)) }
    }
}
