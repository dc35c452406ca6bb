import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// The single-pass codecs of the ingest path against Foundation's `JSONEncoder`/`JSONDecoder`
/// with the wire conventions: the same bytes out, the same values (or a failure) in.
@Suite("Wire codecs: single-pass = Foundation")
struct WireCodecEquivalenceTests {
    static let jobID = JobID.derived(team: "ml-research", idempotencyKey: "equivalence")

    /// Text that exercises escaping: quotes, backslashes, slashes, non-ASCII, control characters.
    static let texts = [
        "plain", "", "with \"quotes\"", #"back\slash"#, "s3://bucket/path/", "✗ non-ASCII ü", "line\nbreak", "tab\tx", "\u{7}bell",
        "del\u{7F}", "\u{2028}separator", "emoji 🚂",
    ]

    static func text(_ generator: inout SplitMix64) -> String? {
        generator.next() % 3 == 0 ? nil : texts[Int(generator.next() % UInt64(texts.count))]
    }

    /// Whole milliseconds, mostly recent, sometimes before 1970 or after 9999.
    static func date(_ generator: inout SplitMix64) -> Date {
        let millis: Int64 =
            switch generator.next() % 10 {
            case 0: -Int64(generator.next() % 100_000_000_000)
            case 1: 253_402_300_800_000 + Int64(generator.next() % 1_000_000_000)
            default: Int64(generator.next() % 4_102_444_800_000)
            }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    static func event(_ generator: inout SplitMix64) -> LifecycleEvent {
        func pick<T>(_ values: [T]) -> T { values[Int(generator.next() % UInt64(values.count))] }
        return LifecycleEvent(
            jobID: jobID, attempt: Int(generator.next() % 5), state: pick(JobState.allCases), source: pick(EventSource.allCases),
            occurredAt: date(&generator), team: text(&generator), backend: text(&generator), resourceName: text(&generator),
            exitCode: generator.next() % 2 == 0 ? nil : pick([0, 1, -9, 137, Int32.max, Int32.min]),
            failureClass: pick([nil, .userError, .infrastructure, .invalidRequest]), reason: text(&generator), workerID: text(&generator),
            observedAt: generator.next() % 3 == 0 ? date(&generator) : nil, costUSD: pick([nil, 0, 0.000_011, 1e-7, 2.5, 1234.567_891]),
            billedSeconds: pick([nil, 0, 0.001, 59.999, 86_400]), costIsEstimate: pick([nil, true]))
    }

    @Test("events encode to the same bytes as JSONEncoder and decode to the same values as JSONDecoder")
    func events() throws {
        var generator = SplitMix64(seed: 0xE7E7)
        for _ in 0..<3000 {
            let event = Self.event(&generator)
            let bytes = try LifecycleEventCodec.encode(event)
            let reference = try WireFormat.encoder().encode(event)
            #expect(bytes == reference, "\(String(decoding: bytes, as: UTF8.self)) != \(String(decoding: reference, as: UTF8.self))")
            #expect(try LifecycleEventCodec.decode(reference) == WireFormat.decoder().decode(LifecycleEvent.self, from: reference))
        }
    }

    @Test("status messages encode to the same bytes as JSONEncoder")
    func statusMessages() throws {
        var generator = SplitMix64(seed: 0x5747)
        let seconds: [Double?] = [nil, 0, 1, 2.123, 0.001, 1e-5, 12345.678, 86400 * 365 * 300, 1.5e20, 0.1 + 0.2]
        for _ in 0..<3000 {
            func maybeDate() -> Date? { generator.next() % 3 == 0 ? nil : Self.date(&generator) }
            let status = JobStatusMessage(
                jobID: Self.jobID, team: Self.text(&generator) ?? "t", name: Self.text(&generator), kind: Self.text(&generator),
                state: JobState.allCases[Int(generator.next() % 10)], attempt: Int(generator.next() % 4),
                stateSource: EventSource.allCases[Int(generator.next() % 4)], backend: Self.text(&generator),
                resourceName: Self.text(&generator), exitCode: generator.next() % 2 == 0 ? nil : Int32(truncatingIfNeeded: generator.next()),
                failureClass: [nil, .userError, .infrastructure][Int(generator.next() % 3)], reason: Self.text(&generator),
                submittedAt: maybeDate(), claimedAt: maybeDate(), startedAt: maybeDate(), finishedAt: maybeDate(),
                cancelRequestedAt: maybeDate(), updatedAt: Self.date(&generator),
                queueWaitSeconds: seconds[Int(generator.next() % UInt64(seconds.count))],
                runSeconds: generator.next() % 2 == 0 ? nil : Double(generator.next() % 10_000_000) / 1000,
                costUSD: [nil, 0, 1e-6, 0.1 + 0.2, 1234.5][Int(generator.next() % 5)])
            let bytes = try JobStatusCodec.encode(status)
            let reference = try WireFormat.encoder().encode(status)
            #expect(bytes == reference, "\(String(decoding: bytes, as: UTF8.self)) != \(String(decoding: reference, as: UTF8.self))")
        }
    }

    /// Variations on a valid event document: each must give what JSONDecoder gives.
    static let eventDocuments: [String] = {
        let base =
            #"{"attempt":1,"backend":"local","exitCode":0,"jobId":"\#(jobID)","occurredAt":"2025-11-29T04:05:06.789Z","schema":1,"source":"backend","state":"SUCCEEDED","team":"t"}"#
        func replacing(_ old: String, _ new: String) -> String { base.replacingOccurrences(of: old, with: new) }
        return [
            base,
            " \n" + replacing(",", " ,\t") + "\n ",
            replacing(#""attempt":1"#, #""attempt":1.0"#),
            replacing(#""attempt":1"#, #""attempt":1e0"#),
            replacing(#""attempt":1"#, #""attempt":-0"#),
            replacing(#""attempt":1"#, #""attempt":01"#),
            replacing(#""attempt":1"#, #""attempt":-1"#),
            replacing(#""attempt":1"#, #""attempt":"1""#),
            replacing(#""attempt":1"#, #""attempt":null"#),
            replacing(#""attempt":1"#, #""attempt":99999999999999999999"#),
            replacing(#""exitCode":0"#, #""exitCode":null"#),
            replacing(#""exitCode":0"#, #""exitCode":4294967296"#),
            replacing(#""team":"t""#, #""team":null"#),
            replacing(#""team":"t""#, #""team":"t\"x""#),
            replacing(#""team":"t""#, #""team":"\u0074""#),
            replacing(#""team":"t""#, #""team":"t","team":"u""#),
            replacing(#""team":"t""#, #""team":"t","extra":{"a":[1,2]}"#),
            replacing(#""team":"t""#, #""team":"t","flag":true"#),
            replacing(#""schema":1"#, #""schema":2"#),
            replacing(#""state":"SUCCEEDED""#, #""state":"DONE""#),
            replacing(#""jobId":"\#(jobID)""#, #""jobId":"not-an-id""#),
            replacing(".789Z", "Z"),
            replacing(".789Z", ".7Z"),
            replacing(".789Z", ".789123Z"),
            replacing(".789Z", ".789+00:00"),
            replacing("2025-11-29", "2025-02-30"),
            replacing("2025-11-29", "2024-02-29"),
            replacing("04:05:06", "24:05:06"),
            replacing("2025-11-29T", "2025-11-29t"),
            replacing("2025-11-29", "1969-12-31"),
            replacing(#""source":"backend","#, ""),
            base + "x",
            "[" + base + "]",
            String(base.dropLast()),
            "{}",
            "",
        ]
    }()

    @Test("decoding agrees with JSONDecoder on valid, odd and broken documents", arguments: eventDocuments)
    func decodeVariations(document: String) {
        let bytes = Data(document.utf8)
        let fast = try? LifecycleEventCodec.decode(bytes)
        let reference = (try? WireFormat.decoder().decode(LifecycleEvent.self, from: bytes)).flatMap {
            $0.schema == LifecycleEvent.schemaVersion && $0.attempt >= 0 ? $0 : nil
        }
        #expect(fast == reference)
    }

    @Test("timestamps format and parse as Foundation's ISO 8601 style does")
    func timestamps() {
        var generator = SplitMix64(seed: 0x7157)
        var failures: [String] = []
        for _ in 0..<5000 {
            let millis = Int64(generator.next() % 253_402_300_800_000)
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let whole = Date(timeIntervalSince1970: Double(millis / 1000)).formatted(Date.ISO8601FormatStyle())
            let expected = whole.dropLast() + "." + String(format: "%03d", Int(millis % 1000)) + "Z"
            let text = WireFormat.formatTimestamp(date)
            let parsed = WireFormat.parseTimestamp(text)
            let reference = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)).map {
                Date(timeIntervalSince1970: ($0.timeIntervalSince1970 * 1000).rounded() / 1000)
            }
            if text != expected || parsed != reference || parsed != date { failures.append("\(millis): \(text) vs \(expected)") }
        }
        #expect(failures.isEmpty, "\(failures.count) differ, e.g. \(failures.prefix(3))")
    }

    @Test("a map of doubles with run-time keys is written as JSONEncoder writes [String: Double] with sorted keys")
    func doubleMaps() throws {
        var generator = SplitMix64(seed: 0xD0B1)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for _ in 0..<500 {
            var map: [String: Double] = [:]
            for state in JobState.allCases where generator.next() % 2 == 0 {
                map[state.rawValue] = Double(Int64(generator.next() % 4_102_444_800_000)) / 1000
            }
            var writer = WireJSONWriter()
            for (key, value) in map.sorted(by: { $0.key < $1.key }) { writer.double(key: key, value) }
            #expect(writer.data == (try encoder.encode(map)))
        }
    }
}
