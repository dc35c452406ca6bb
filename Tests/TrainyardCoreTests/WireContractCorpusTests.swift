import Foundation
import Testing
import TrainyardTesting

@testable import TrainyardCore

/// The published wire contract (docs/schemas/v1, docs/wire-format.md) against this build's codecs:
/// the recorded v1 corpus decodes, canonical messages re-encode byte for byte, unknown fields are
/// ignored, the invalid examples are refused with their documented code, the job-id vectors hold,
/// and the schema's patterns accept exactly what the spec validator accepts.
@Suite("Wire contract: v1 corpus and schema patterns")
struct WireContractCorpusTests {
    static let examples = TestEnvironment.repositoryFile("docs/schemas/examples/v1")

    /// (file name, bytes) of every `.json` file of a corpus folder, sorted by name.
    static func corpus(_ folder: String) throws -> [(name: String, bytes: Data)] {
        let directory = examples.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted().map {
            ($0, try Data(contentsOf: directory.appendingPathComponent($0)))
        }
    }

    /// Files named `*from-another-client*` are what a non-Trainyard producer may write (defaults
    /// left out, another key order); every other file is exactly what Trainyard writes.
    static func isCanonical(_ name: String) -> Bool { !name.contains("from-another-client") }

    /// The message with `"futureField"` added to it (and to its spec): what a newer schema-1 writer may send.
    static func withUnknownFields(_ bytes: Data) throws -> Data {
        var object = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        object["futureField"] = ["nested": [1, 2, 3]]
        if var spec = object["spec"] as? [String: Any] {
            spec["futureSpecField"] = "ignored"
            object["spec"] = spec
        }
        return try JSONSerialization.data(withJSONObject: object)
    }

    @Test("the three documented (team, idempotency key) → job id vectors and the rest of the vector file")
    func jobIDVectors() throws {
        struct Vector: Decodable {
            var team: String
            var idempotencyKey: String
            var jobId: String
        }
        let vectors = try JSONDecoder().decode([Vector].self, from: Data(contentsOf: Self.examples.appendingPathComponent("job-id-vectors.json")))
        #expect(vectors.count >= 3)
        for vector in vectors {
            #expect(JobID.derived(team: vector.team, idempotencyKey: vector.idempotencyKey).rawValue == vector.jobId, "\(vector.team) \(vector.idempotencyKey)")
        }
        // The README's example: team ml-platform (ops/examples/hello.yaml), Idempotency-Key hello-1.
        #expect(JobID.derived(team: "ml-platform", idempotencyKey: "hello-1").rawValue == "3kzwwdzj137v7mvnaqd3ejymwe")
    }

    @Test("every v1 request in the corpus decodes; a submit with a key carries the derived id; canonical ones re-encode byte for byte")
    func requests() throws {
        let submits = try Self.corpus("submit-request")
        let cancels = try Self.corpus("cancel-request")
        #expect(!submits.isEmpty && !cancels.isEmpty)
        for (name, bytes) in submits + cancels {
            let request = try JobRequestCodec.decode(bytes).get()
            if case .submit(let command) = request {
                #expect(submits.contains { $0.name == name }, "\(name) is not a submit")
                if let key = command.spec.idempotencyKey {
                    #expect(command.jobID == JobID.derived(team: command.spec.team, idempotencyKey: key), "\(name)")
                }
            } else {
                #expect(cancels.contains { $0.name == name }, "\(name) is not a cancel")
            }
            if Self.isCanonical(name) {
                #expect(String(decoding: try JobRequestCodec.encode(request), as: UTF8.self) == String(decoding: bytes, as: UTF8.self), "\(name)")
            }
            #expect(try JobRequestCodec.decode(Self.withUnknownFields(bytes)).get() == request, "\(name): unknown fields must be ignored")
        }
    }

    @Test("every v1 event, status and alert in the corpus decodes and re-encodes byte for byte; unknown fields are ignored")
    func eventsStatusAndAlerts() throws {
        let events = try Self.corpus("lifecycle-event")
        let statuses = try Self.corpus("job-status")
        let alerts = try Self.corpus("alert")
        #expect(!events.isEmpty && !statuses.isEmpty && !alerts.isEmpty)
        for (name, bytes) in events {
            let event = try LifecycleEventCodec.decode(bytes)
            #expect(String(decoding: try LifecycleEventCodec.encode(event), as: UTF8.self) == String(decoding: bytes, as: UTF8.self), "\(name)")
            #expect(try LifecycleEventCodec.decode(Self.withUnknownFields(bytes)) == event, "\(name)")
        }
        for (name, bytes) in statuses {
            let status = try JobStatusCodec.decode(bytes)
            #expect(String(decoding: try JobStatusCodec.encode(status), as: UTF8.self) == String(decoding: bytes, as: UTF8.self), "\(name)")
            #expect(try JobStatusCodec.decode(Self.withUnknownFields(bytes)) == status, "\(name)")
        }
        for (name, bytes) in alerts {
            let alert = try AlertCodec.decode(bytes)
            #expect(String(decoding: try AlertCodec.encode(alert), as: UTF8.self) == String(decoding: bytes, as: UTF8.self), "\(name)")
            #expect(try AlertCodec.decode(Self.withUnknownFields(bytes)) == alert, "\(name)")
        }
    }

    @Test("every invalid example is refused with the code its name starts with")
    func invalidExamples() throws {
        let invalid = try Self.corpus("invalid")
        #expect(invalid.count >= 10)
        for (name, bytes) in invalid {
            let code = try #require(RequestRejection.Code(rawValue: String(name.prefix { $0 != "." })), "\(name): no error code in the name")
            switch JobRequestCodec.decode(bytes) {
            case .success: Issue.record("\(name) was accepted")
            case .failure(let rejection): #expect(rejection.code == code, "\(name): \(rejection)")
            }
        }
    }

    @Test("a message of another schema version is refused, never read as version 1")
    func otherVersions() throws {
        for (name, bytes) in try Self.corpus("lifecycle-event") + Self.corpus("job-status") + Self.corpus("alert") {
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"schema\":1", with: "\"schema\":2")
            #expect(throws: (any Error).self, "\(name)") {
                if name.contains("status") || text.contains("stateSource") {
                    _ = try JobStatusCodec.decode(Data(text.utf8))
                } else if text.contains("alertId") {
                    _ = try AlertCodec.decode(Data(text.utf8))
                } else {
                    _ = try LifecycleEventCodec.decode(Data(text.utf8))
                }
            }
        }
    }

    // MARK: schema patterns against the validator

    /// `pattern` of a property of job-spec.schema.json, by JSON pointer.
    static func pattern(_ pointer: [String]) throws -> NSRegularExpression {
        var node: Any = try JSONSerialization.jsonObject(with: Data(contentsOf: TestEnvironment.repositoryFile("docs/schemas/v1/job-spec.schema.json")))
        for key in pointer { node = try #require((node as? [String: Any])?[key], "no \(pointer.joined(separator: "/"))") }
        let text = try #require(node as? String)
        // JSON Schema patterns are ECMA-262, where `$` is only the end of the text; ICU's (like
        // Python's) also matches before a final newline, so a trailing `$` is read as `\z`.
        return try NSRegularExpression(pattern: text.hasSuffix("$") ? text.dropLast() + "\\z" : text)
    }

    static func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Strings around each rule's edges: random picks from characters that matter to the grammars.
    static func samples(count: Int, seed: UInt64) -> [String] {
        var generator = SplitMix64(seed: seed)
        let pieces = [
            "a", "z", "A", "Z", "0", "9", ".", "_", "-", "/", ":", "@", "sha256:", String(repeating: "a", count: 64), String(repeating: "0", count: 63),
            "localhost", "registry.example.com", "host:5000", "ml", "::", "//", " ", "é", "\u{0}", "\t", "+", "s3", "://", "x", "\n",
        ]
        return (0..<count).map { _ in
            (0..<Int.random(in: 0...7, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
        } + ["", "a", String(repeating: "a", count: 63), String(repeating: "a", count: 64), String(repeating: "a", count: 128), String(repeating: "a", count: 129)]
    }

    @Test("the schema's patterns accept exactly what the spec validator accepts (name, team, image, labels, env names, URIs)")
    func patternsAgreeWithValidator() throws {
        let rules: [(String, NSRegularExpression, (String) -> Bool)] = [
            ("name", try Self.pattern(["properties", "name", "pattern"]), JobSpecValidator.isName),
            ("team", try Self.pattern(["properties", "team", "pattern"]), JobSpecValidator.isDNSLabel),
            ("image", try Self.pattern(["properties", "image", "pattern"]), JobSpecValidator.isImageReference),
            ("label key", try Self.pattern(["properties", "labels", "propertyNames", "pattern"]), { JobSpecValidator.isLabelText($0, allowEmpty: false) }),
            ("label value", try Self.pattern(["properties", "labels", "additionalProperties", "pattern"]), { JobSpecValidator.isLabelText($0, allowEmpty: true) }),
            ("env name", try Self.pattern(["properties", "env", "propertyNames", "pattern"]), JobSpecValidator.isIdentifier),
            ("uri", try Self.pattern(["$defs", "uri", "pattern"]), JobSpecValidator.isURI),
        ]
        for (index, (rule, regex, validator)) in rules.enumerated() {
            var accepted = 0
            for sample in Self.samples(count: 20_000, seed: SplitMix64.seed(20261203, case: index)) {
                let schemaSays = Self.matches(regex, sample)
                #expect(schemaSays == validator(sample), "\(rule): \(sample.debugDescription) — schema \(schemaSays), validator \(!schemaSays)")
                if schemaSays { accepted += 1 }
            }
            #expect(accepted > 20, "\(rule): too few accepted samples to mean anything (\(accepted))")
        }
    }
}
