import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// `JobRequestCodec`: the submit/cancel envelopes on the requests topic and every way a message
/// is rejected; never a trap, whatever the bytes.
@Suite("JobRequestCodec")
struct JobRequestCodecTests {
    /// A fixed id (one `generate(at: Fixtures.submittedAt)` produced) so fuzz seeds reproduce.
    static let jobID = JobID("01kb6wjd3526pzq43cr94vdrnr")!
    static let submit = JobRequest.submit(SubmitCommand(jobID: jobID, spec: Fixtures.fullSpec, submittedAt: Fixtures.submittedAt))

    static func encodedSubmit() throws -> Data { try JobRequestCodec.encode(submit) }

    /// The encoded submit as a JSON object, edited by `edit`, re-serialised.
    static func editedSubmit(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try #require(try JSONSerialization.jsonObject(with: encodedSubmit()) as? [String: Any])
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func rejection(_ bytes: Data) -> RequestRejection? {
        if case .failure(let rejection) = JobRequestCodec.decode(bytes) { return rejection }
        return nil
    }

    // MARK: round trips

    @Test("submit round trip")
    func submitRoundTrip() throws {
        let bytes = try Self.encodedSubmit()
        #expect(JobRequestCodec.decode(bytes) == .success(Self.submit))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"jobId":"\#(Self.jobID)","schema":1,"#), "\(text)")
        #expect(text.contains(#""submittedAt":"2025-11-29T04:05:06.789Z""#), "\(text)")
        #expect(text.contains(#""type":"submit""#), "\(text)")
        // Sorted keys: equal values are equal bytes.
        #expect(try JobRequestCodec.encode(Self.submit) == bytes)
    }

    @Test("submit round trip of a minimal spec")
    func minimalSubmitRoundTrip() throws {
        let spec = JobSpec(name: "n", team: "t", command: ["true"], idempotencyKey: "k")
        let request = JobRequest.submit(SubmitCommand(spec: spec, submittedAt: Fixtures.submittedAt))
        #expect(request.jobID == JobID.derived(team: "t", idempotencyKey: "k"))
        #expect(JobRequestCodec.decode(try JobRequestCodec.encode(request)) == .success(request))
    }

    @Test("cancel round trip, with and without a reason", arguments: [nil, "superseded by a newer run ✓"] as [String?])
    func cancelRoundTrip(reason: String?) throws {
        let request = JobRequest.cancel(CancelCommand(jobID: Self.jobID, requestedAt: Fixtures.submittedAt, reason: reason))
        let bytes = try JobRequestCodec.encode(request)
        #expect(JobRequestCodec.decode(bytes) == .success(request))
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""type":"cancel""#))
        #expect(request.jobID == Self.jobID)
    }

    @Test("timestamps without fractional seconds are read")
    func timestampWithoutFraction() throws {
        let bytes = try Self.editedSubmit { $0["submittedAt"] = "2025-11-29T04:05:06Z" }
        guard case .success(.submit(let command)) = JobRequestCodec.decode(bytes) else {
            Issue.record("rejected: \(JobRequestCodec.decode(bytes))")
            return
        }
        #expect(command.submittedAt == Date(timeIntervalSince1970: 1_764_389_106))
    }

    // MARK: rejections

    @Test("schema 2 is UNKNOWN_SCHEMA with the jobId recovered")
    func unknownSchema() throws {
        let rejection = try #require(Self.rejection(try Self.editedSubmit { $0["schema"] = 2 }))
        #expect(rejection.code == .unknownSchema)
        #expect(rejection.jobID == Self.jobID)
        #expect(rejection.reason == "schema version 2 is not supported (this build reads 1)")
        #expect(rejection.description == "UNKNOWN_SCHEMA: schema version 2 is not supported (this build reads 1)")
    }

    @Test(
        "bytes that are not a JSON object are MALFORMED",
        arguments: [
            "", "not json", "{", "[1,2,3]", "\"a string\"", "42", "null", "{\"schema\":1,", "\u{FEFF}",
        ])
    func notJSON(text: String) {
        let rejection = Self.rejection(Data(text.utf8))
        #expect(rejection?.code == .malformed)
        #expect(rejection?.jobID == nil)
    }

    @Test("missing jobId is MALFORMED")
    func missingJobID() throws {
        let rejection = try #require(Self.rejection(try Self.editedSubmit { $0["jobId"] = nil }))
        #expect(rejection == RequestRejection(code: .malformed, reason: "missing or invalid jobId"))
    }

    @Test("an invalid jobId is MALFORMED")
    func invalidJobID() throws {
        let rejection = try #require(Self.rejection(try Self.editedSubmit { $0["jobId"] = "NOT-A-JOB-ID" }))
        #expect(rejection == RequestRejection(code: .malformed, reason: "missing or invalid jobId"))
    }

    @Test("missing schema is MALFORMED with the jobId recovered")
    func missingSchema() throws {
        let rejection = try #require(Self.rejection(try Self.editedSubmit { $0["schema"] = nil }))
        #expect(rejection == RequestRejection(code: .malformed, reason: "missing schema version", jobID: Self.jobID))
    }

    @Test("type resume is UNKNOWN_TYPE")
    func unknownType() throws {
        let rejection = try #require(Self.rejection(try Self.editedSubmit { $0["type"] = "resume" }))
        #expect(rejection == RequestRejection(code: .unknownType, reason: #"unknown request type "resume""#, jobID: Self.jobID))
        let none = try #require(Self.rejection(try Self.editedSubmit { $0["type"] = nil }))
        #expect(none == RequestRejection(code: .unknownType, reason: "unknown request type (none)", jobID: Self.jobID))
    }

    @Test("a submit whose spec fails validation is INVALID_SPEC with jobId, team and the violations")
    func invalidSpecValidation() throws {
        var spec = Fixtures.fullSpec
        spec.resources.gpu = 65
        spec.env["1PATH"] = "/bin"
        let request = JobRequest.submit(SubmitCommand(jobID: Self.jobID, spec: spec, submittedAt: Fixtures.submittedAt))
        let rejection = try #require(Self.rejection(try JobRequestCodec.encode(request)))
        #expect(rejection.code == .invalidSpec)
        #expect(rejection.jobID == Self.jobID)
        #expect(rejection.team == "ml-research")
        #expect(
            rejection.reason
                == "invalid job spec: env.1PATH: is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*); resources.gpu: must be between 0 and 64 (got 65)"
        )
    }

    @Test("a submit whose spec cannot be decoded is INVALID_SPEC with jobId, team and the field")
    func invalidSpecDecoding() throws {
        let missing = try #require(
            Self.rejection(
                try Self.editedSubmit { object in
                    var spec = object["spec"] as! [String: Any]
                    spec["command"] = nil
                    object["spec"] = spec
                }))
        #expect(missing == RequestRejection(code: .invalidSpec, reason: "spec.command: is required", jobID: Self.jobID, team: "ml-research"))

        let backend = try #require(
            Self.rejection(
                try Self.editedSubmit { object in
                    var spec = object["spec"] as! [String: Any]
                    spec["backend"] = "gpu-cluster"
                    object["spec"] = spec
                }))
        #expect(
            backend
                == RequestRejection(
                    code: .invalidSpec, reason: "spec.backend: must be one of auto, local, sagemaker, kubernetes",
                    jobID: Self.jobID, team: "ml-research"))
    }

    @Test("a submit without submittedAt is MALFORMED, not INVALID_SPEC (its spec is fine)")
    func missingSubmittedAt() throws {
        let rejection = try #require(Self.rejection(try Self.editedSubmit { $0["submittedAt"] = nil }))
        #expect(rejection.code == .malformed, "\(rejection)")
        #expect(rejection.jobID == Self.jobID)
    }

    @Test("a cancel that cannot be decoded is MALFORMED with the jobId recovered")
    func malformedCancel() throws {
        let bytes = Data(#"{"jobId":"\#(Self.jobID)","schema":1,"type":"cancel","requestedAt":"yesterday"}"#.utf8)
        let rejection = try #require(Self.rejection(bytes))
        #expect(rejection.code == .malformed)
        #expect(rejection.jobID == Self.jobID)
    }

    @Test("a message over 512 KiB is OVERSIZED; one of exactly 512 KiB is read")
    func oversized() throws {
        var bytes = try Self.encodedSubmit()
        bytes.append(Data(repeating: 0x20, count: JobRequest.maxMessageBytes - bytes.count))
        #expect(bytes.count == 524_288)
        #expect(JobRequestCodec.decode(bytes) == .success(Self.submit))

        bytes.append(0x20)
        let rejection = try #require(Self.rejection(bytes))
        #expect(rejection == RequestRejection(code: .oversized, reason: "message is 524289 bytes; the limit is 524288"))
    }

    // MARK: fuzzing

    /// Every message decodes to a request or a rejection without trapping, and an accepted
    /// request survives another encode/decode unchanged.
    static func checkDecodes(_ bytes: Data, seed: UInt64, index: Int) {
        switch JobRequestCodec.decode(bytes) {
        case .success(let request):
            let again = (try? JobRequestCodec.encode(request)).map(JobRequestCodec.decode)
            #expect(
                again == .success(request),
                "seed \(seed), case \(index): accepted request does not round-trip: \(String(decoding: bytes, as: UTF8.self))")
        case .failure(let rejection):
            #expect(!rejection.reason.isEmpty, "seed \(seed), case \(index)")
        }
    }

    static let jsonFragments: [[UInt8]] = [
        "{", "}", "[", "]", ":", ",", "\"", "\\", "schema", "1", "2", "-", "1e999", "0.5", "true", "null", "type",
        "submit", "cancel", "jobId", "spec", "\"\(jobID)\"", "team", "command", "\\u0000", "\\ud800", " ", "\n", "é", "\u{FEFF}",
    ].map { Array($0.utf8) }

    @Test("1,000 random byte strings never crash the decoder")
    func randomBytes() {
        let seed: UInt64 = 0x7261_6E64_6F6D
        var generator = SplitMix64(seed: seed)
        for index in 0..<1000 {
            var bytes: [UInt8] = []
            let length = Int.random(in: 0...300, using: &generator)
            if index % 2 == 0 {
                for _ in 0..<length { bytes.append(UInt8.random(in: 0...255, using: &generator)) }
            } else {
                // Random sequences of JSON-ish tokens reach deeper into the decoder.
                bytes = Array("{\"schema\":1,".utf8)
                for _ in 0..<(length / 4) { bytes += Self.jsonFragments.randomElement(using: &generator)! }
            }
            Self.checkDecodes(Data(bytes), seed: seed, index: index)
        }
    }

    @Test("1,000 random mutations of a valid submit never crash the decoder")
    func mutatedSubmits() throws {
        let seed: UInt64 = 0x6D75_7461_7465
        var generator = SplitMix64(seed: seed)
        let original = try Array(Self.encodedSubmit())
        var accepted = 0
        for index in 0..<1000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                guard !bytes.isEmpty else { break }
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)  // bit flip
                case 1: bytes[position] = UInt8.random(in: 0...255, using: &generator)  // byte replacement
                case 2: bytes.removeSubrange(position...)  // truncation
                case 3: bytes.remove(at: position)  // deletion
                default: bytes.insert(contentsOf: Self.jsonFragments.randomElement(using: &generator)!, at: position)
                }
            }
            if case .success = JobRequestCodec.decode(Data(bytes)) { accepted += 1 }
            Self.checkDecodes(Data(bytes), seed: seed, index: index)
        }
        // Not a requirement, just a sign the mutations are not all rejected at the first byte.
        #expect(accepted > 0 && accepted < 1000, "accepted \(accepted) of 1000")
    }
}
