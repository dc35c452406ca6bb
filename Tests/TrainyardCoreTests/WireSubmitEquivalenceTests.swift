import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// The single-pass submit reader and spec writer against Foundation: the same bytes out, the
/// same result (command or rejection) in.
@Suite("Wire codecs: single-pass submits = Foundation")
struct WireSubmitEquivalenceTests {
    typealias Texts = WireCodecEquivalenceTests

    /// Map keys whose orders differ between byte order, case-insensitive and numeric comparison.
    static let keys = ["A", "a", "B_1", "_x", "a10", "a9", "Z", "z", "é", "key.with.dots", "UPPER", "b-2"]

    /// Texts the single-pass reader handles (no escapes, control or non-ASCII characters).
    static let plainTexts = ["plain", "", "s3://bucket/path/", "a-b_c.d", "UPPER 1"]

    /// A random spec; with `plain`, every text is one of `plainTexts`.
    static func spec(_ generator: inout SplitMix64, plain: Bool) -> JobSpec {
        func optionalText() -> String? {
            guard plain else { return Texts.text(&generator) }
            return generator.next() % 3 == 0 ? nil : plainTexts[Int(generator.next() % UInt64(plainTexts.count))]
        }
        func text() -> String { optionalText() ?? "t" }
        func count() -> Int { Int(generator.next() % 4) }
        func map() -> [String: String] {
            var values: [String: String] = [:]
            let choices = plain ? keys.filter { $0.utf8.allSatisfy { $0 < 0x80 } } : keys
            for _ in 0..<count() { values[choices[Int(generator.next() % UInt64(choices.count))]] = text() }
            return values
        }
        let numbers: [Double] = [1, 0.5, 2.25, 0.1 + 0.2, 1e-5, 64, 1.5e20, -0.0]
        return JobSpec(
            name: text(), team: text(), kind: JobKind.allCases[Int(generator.next() % 4)], image: optionalText(),
            command: (0..<count()).map { _ in text() }, args: (0..<count()).map { _ in text() }, env: map(),
            secrets: (0..<count()).map { _ in SecretReference(env: text(), secretName: text(), key: optionalText()) },
            resources: Resources(
                cpu: numbers[Int(generator.next() % UInt64(numbers.count))], memoryMiB: Int(generator.next() % 100_000),
                gpu: Int(generator.next() % 9), instanceType: optionalText()),
            maxRuntimeSeconds: Int(generator.next() % 1_000_000),
            retry: RetryPolicy(
                maxAttempts: Int(generator.next() % 10), backoffSeconds: numbers[Int(generator.next() % UInt64(numbers.count))],
                retryOnUserError: generator.next() % 2 == 0),
            hyperparameters: map(), inputs: (0..<count()).map { _ in InputChannel(name: text(), uri: text()) },
            output: generator.next() % 2 == 0 ? nil : OutputLocation(uri: text()), backend: BackendChoice.allCases[Int(generator.next() % 4)],
            warmPoolSeconds: generator.next() % 2 == 0 ? nil : Int(generator.next() % 3600), labels: map(), idempotencyKey: optionalText())
    }

    @Test("specs encode to the same bytes as JSONEncoder")
    func specEncoding() throws {
        var generator = SplitMix64(seed: 0x5BEC)
        for _ in 0..<2000 {
            let spec = Self.spec(&generator, plain: generator.next() % 2 == 0)
            let bytes = try JobSpecCodec.encode(spec)
            let reference = try WireFormat.encoder().encode(spec)
            #expect(bytes == reference, "\(String(decoding: bytes, as: UTF8.self)) != \(String(decoding: reference, as: UTF8.self))")
        }
    }

    @Test("submit commands decode to what the JSONDecoder path gives, and plain ones take the single pass")
    func submits() throws {
        var generator = SplitMix64(seed: 0x5AB1)
        var singlePass = 0
        let count = 2000
        for index in 0..<count {
            let spec = Self.spec(&generator, plain: index % 2 == 0)
            let command = SubmitCommand(
                jobID: JobID.generate(at: Texts.date(&generator)), spec: spec,
                submittedAt: Date(timeIntervalSince1970: Double(generator.next() % 4_102_444_800_000) / 1000))
            let bytes = try JobRequestCodec.encode(.submit(command))
            let fast = JobRequestCodec.readSubmit(bytes)
            if let fast {
                if index % 2 == 0 { singlePass += 1 }
                #expect(fast == (try WireFormat.decoder().decode(SubmitCommand.self, from: bytes)))
            }
            #expect(JobRequestCodec.decode(bytes) == JobRequestCodec.decodeWithFoundation(bytes))
        }
        // Texts with escapes, control or non-ASCII characters decline; plain ones must not.
        #expect(singlePass == count / 2, "only \(singlePass) of \(count / 2) plain submits took the single pass")
    }

    /// Variations on a valid submit: each must give what the JSONDecoder path gives.
    static let submitDocuments: [String] = {
        let id = Texts.jobID
        let spec =
            #"{"apiVersion":"trainyard/v1","args":[],"backend":"local","command":["/bin/true"],"env":{},"hyperparameters":{},"inputs":[],"kind":"batch","labels":{"bench":"aggregator"},"maxRuntimeSeconds":3600,"resources":{"cpu":1,"gpu":0,"memoryMiB":1024},"retry":{"backoffSeconds":5,"maxAttempts":3,"retryOnUserError":false},"secrets":[],"team":"bench","name":"n"}"#
        let base = #"{"jobId":"\#(id)","schema":1,"spec":\#(spec),"submittedAt":"2025-11-29T04:05:06.789Z","type":"submit"}"#
        func replacing(_ old: String, _ new: String) -> String {
            precondition(base.contains(old), old)
            return base.replacingOccurrences(of: old, with: new)
        }
        return [
            base,
            " \n" + replacing(",", " ,\t") + "\n ",
            replacing(#""args":[],"#, ""),
            replacing(#""args":[]"#, #""args":null"#),
            replacing(#""args":[]"#, #""args":["a",null]"#),
            replacing(#""args":[]"#, #""args":"a""#),
            replacing(#""kind":"batch""#, #""kind":null"#),
            replacing(#""kind":"batch""#, #""kind":"nightly""#),
            replacing(#""backend":"local""#, #""backend":"mainframe""#),
            replacing(#""cpu":1"#, #""cpu":1.5"#),
            replacing(#""cpu":1"#, #""cpu":"1""#),
            replacing(#""cpu":1"#, #""cpu":1e400"#),
            replacing(#""cpu":1"#, #""cpu":-1"#),
            replacing(#""memoryMiB":1024"#, #""memoryMiB":1024.0"#),
            replacing(#""memoryMiB":1024"#, #""memoryMiB":99999999999999999999"#),
            replacing(#""maxRuntimeSeconds":3600"#, #""maxRuntimeSeconds":null"#),
            replacing(#""maxRuntimeSeconds":3600"#, #""maxRuntimeSeconds":0"#),
            replacing(#""retryOnUserError":false"#, #""retryOnUserError":0"#),
            replacing(#""retryOnUserError":false"#, #""retryOnUserError":true"#),
            replacing(#""retry":{"backoffSeconds":5,"maxAttempts":3,"retryOnUserError":false}"#, #""retry":{}"#),
            replacing(#""resources":{"cpu":1,"gpu":0,"memoryMiB":1024}"#, #""resources":[]"#),
            replacing(#""labels":{"bench":"aggregator"}"#, #""labels":{"bench":null}"#),
            replacing(#""labels":{"bench":"aggregator"}"#, #""labels":{"bench":"a","bench":"b"}"#),
            replacing(#""labels":{"bench":"aggregator"}"#, #""labels":{"b\u0065nch":"a"}"#),
            replacing(#""labels":{"bench":"aggregator"}"#, #""labels":{"Zeta":"1","alpha":"2"},"unknown":{"deep":[1,{"x":null}]}"#),
            replacing(#""secrets":[]"#, #""secrets":[{"env":"TOKEN","secretName":"s","key":null}]"#),
            replacing(#""secrets":[]"#, #""secrets":[{"env":"TOKEN"}]"#),
            replacing(#""inputs":[]"#, #""inputs":[{"name":"train","uri":"s3://b/p"}],"output":{"uri":"s3://b/out"}"#),
            replacing(#""inputs":[]"#, #""inputs":[{"name":"train","uri":"not a uri"}]"#),
            replacing(#""inputs":[]"#, #""inputs":[],"output":null,"image":null,"warmPoolSeconds":60,"idempotencyKey":"k-1""#),
            replacing(#""team":"bench""#, #""team":"""#),
            replacing(#""team":"bench""#, #""team":null"#),
            replacing(#""team":"bench""#, #""team":"bé""#),
            replacing(#""apiVersion":"trainyard/v1""#, #""apiVersion":"trainyard/v2""#),
            replacing(#""command":["/bin/true"]"#, #""command":[]"#),
            replacing(#","name":"n""#, ""),
            replacing(#""schema":1"#, #""schema":2"#),
            replacing(#""schema":1"#, #""schema":1.0"#),
            replacing(#""schema":1"#, #""schema":"1""#),
            replacing(#""type":"submit""#, #""type":"cancel""#),
            replacing(#""type":"submit""#, #""type":"resubmit""#),
            replacing(#""jobId":"\#(id)""#, #""jobId":"not-an-id""#),
            replacing(#""jobId":"\#(id)""#, #""jobId":null"#),
            replacing(".789Z", "Z"),
            replacing(".789Z", ".789+00:00"),
            replacing("2025-11-29T", "2025-02-30T"),
            replacing(#""spec":\#(spec)"#, #""spec":null"#),
            replacing(#""type":"submit""#, #""type":"submit","extra":true"#),
            base + "x",
            "[" + base + "]",
            String(base.dropLast()),
            "{}",
            "",
        ]
    }()

    @Test("decoding agrees with the JSONDecoder path on valid, odd and broken submits", arguments: submitDocuments)
    func submitVariations(document: String) {
        let bytes = Data(document.utf8)
        #expect(JobRequestCodec.decode(bytes) == JobRequestCodec.decodeWithFoundation(bytes))
    }

    @Test("the plain submit takes the single pass")
    func plainSubmitIsFast() {
        #expect(JobRequestCodec.readSubmit(Data(Self.submitDocuments[0].utf8)) != nil)
        #expect(JobRequestCodec.readSubmit(Data(Self.submitDocuments[1].utf8)) != nil)
    }
}
