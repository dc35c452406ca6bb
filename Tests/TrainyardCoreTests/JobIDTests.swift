import Foundation
import Testing
import TrainyardCore
import TrainyardTesting

/// `JobID`: shape, validity as backend resource names, time order, derivation, parsing, Codable.
@Suite("JobID")
struct JobIDTests {
    static let alphabet = Set("0123456789abcdefghjkmnpqrstvwxyz")
    /// SageMaker training/processing job names.
    static var sageMakerName: Regex<AnyRegexOutput> { try! Regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$") }
    /// Kubernetes RFC 1123 DNS label (also used for names of Jobs and their pods' labels).
    static var dnsLabel: Regex<AnyRegexOutput> { try! Regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$") }

    static func checkShape(_ id: JobID, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = id.rawValue
        #expect(text.count == 26, "\(text)", sourceLocation: sourceLocation)
        #expect(text.allSatisfy { alphabet.contains($0) }, "\(text)", sourceLocation: sourceLocation)
        #expect(text.wholeMatch(of: sageMakerName) != nil, "\(text)", sourceLocation: sourceLocation)
        #expect(text.wholeMatch(of: dnsLabel) != nil && text.count <= 63, "\(text)", sourceLocation: sourceLocation)
        #expect(id.description == text, sourceLocation: sourceLocation)
        #expect(JobID(text) == id, sourceLocation: sourceLocation)
    }

    /// The milliseconds a generated id carries in its first 10 characters (50 bits, top 2 zero).
    static func embeddedMilliseconds(_ id: JobID) -> UInt64 {
        let digits = Array("0123456789abcdefghjkmnpqrstvwxyz")
        return id.rawValue.prefix(10).reduce(UInt64(0)) { $0 << 5 | UInt64(digits.firstIndex(of: $1)!) }
    }

    @Test("generated ids are 26 characters of the alphabet and valid SageMaker and DNS names")
    func generatedShape() {
        var seen = Set<JobID>()
        for _ in 0..<2000 {
            let id = JobID.generate()
            Self.checkShape(id)
            seen.insert(id)
        }
        #expect(seen.count == 2000, "generated ids collided")
    }

    @Test("derived ids have the same shape")
    func derivedShape() {
        for index in 0..<500 {
            Self.checkShape(JobID.derived(team: "team-\(index % 7)", idempotencyKey: "key/\(index)"))
        }
    }

    @Test("a generated id carries its generation time in milliseconds")
    func embeddedTime() {
        // 2025-11-29T04:05:06.789Z; the expected prefix was computed independently (Python, base32 of the 48-bit time).
        let id = JobID.generate(at: Date(timeIntervalSince1970: 1_764_389_106.789))
        #expect(id.rawValue.hasPrefix("01kb6wjd35"), "\(id)")
        #expect(Self.embeddedMilliseconds(id) == 1_764_389_106_789)
    }

    /// Every millisecond of a few consecutive seconds, then random milliseconds up to 2096.
    static func sampleMilliseconds(seed: UInt64) -> [UInt64] {
        var generator = SplitMix64(seed: seed)
        return (0..<3000).map { 1_764_389_106_000 + UInt64($0) }
            + (0..<3000).map { _ in UInt64.random(in: 0..<4_000_000_000_000, using: &generator) }
    }

    @Test("ids generated at t and t + 1 ms compare <")
    func timeOrder() {
        var failures: [String] = []
        let sample = Self.sampleMilliseconds(seed: 0x1D5)
        for millis in sample {
            for _ in 0..<4 {
                let first = JobID.generate(at: Fixtures.date(milliseconds: Int64(millis)))
                let second = JobID.generate(at: Fixtures.date(milliseconds: Int64(millis + 1)))
                if !(first < second) { failures.append("t = \(millis) ms: \(first) ≥ \(second)") }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(sample.count * 4) pairs out of order, e.g. \(failures.prefix(3))")
    }

    @Test("a generated id carries the millisecond it was generated at")
    func carriesMillisecond() {
        var failures: [String] = []
        let sample = Self.sampleMilliseconds(seed: 0x2D5)
        for millis in sample {
            let id = JobID.generate(at: Fixtures.date(milliseconds: Int64(millis)))
            let carried = Self.embeddedMilliseconds(id)
            if carried != millis { failures.append("\(millis) ms → \(id) carries \(carried)") }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(sample.count) ids carry another millisecond, e.g. \(failures.prefix(3))")
        // Within a millisecond the time part is the same, whatever the sub-millisecond part.
        let base = Date(timeIntervalSince1970: 1_800_000_000.5)
        #expect(Self.embeddedMilliseconds(JobID.generate(at: base.addingTimeInterval(0.0004))) == 1_800_000_000_500)
    }

    @Test("ids generated in order by a later clock reading compare greater")
    func sortsAcrossSeconds() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let ids = (0..<200).map { JobID.generate(at: start.addingTimeInterval(Double($0) * 0.5)) }
        #expect(ids == ids.sorted())
        #expect(ids.map(\.rawValue) == ids.map(\.rawValue).sorted())
    }

    @Test("derived ids are stable for (team, key) and differ for another team or key")
    func derivedStability() {
        let id = JobID.derived(team: "ml-research", idempotencyKey: "airflow/dag_train/2026-11-29")
        #expect(id == JobID.derived(team: "ml-research", idempotencyKey: "airflow/dag_train/2026-11-29"))
        // Golden values computed independently with Python's hashlib: the first 16 bytes of
        // SHA-256("trainyard-job-id\0<team>\0<key>") in this alphabet. A change here changes every
        // existing job's id, so resubmissions after an upgrade would create duplicates.
        #expect(id.rawValue == "0svc1qrbvkek25kjp5jcaqcb20")
        #expect(JobID.derived(team: "ml-research", idempotencyKey: "ci-run-1").rawValue == "7kh3y8b1bypx10wgxzrrvk282h")
        #expect(JobID.derived(team: "vision", idempotencyKey: "ci-run-1").rawValue == "1pxrhhb526p47arvax0a2nzkg5")

        #expect(id != JobID.derived(team: "ml-research2", idempotencyKey: "airflow/dag_train/2026-11-29"))
        #expect(id != JobID.derived(team: "ml-research", idempotencyKey: "airflow/dag_train/2026-11-30"))
        // Moving characters between team and key must not collide.
        #expect(JobID.derived(team: "ab", idempotencyKey: "c") != JobID.derived(team: "a", idempotencyKey: "bc"))

        var ids = Set<JobID>()
        for team in ["a", "b", "ml-research"] {
            for key in 0..<300 { ids.insert(JobID.derived(team: team, idempotencyKey: "run-\(key)")) }
        }
        #expect(ids.count == 900)
    }

    @Test(
        "JobID(_:) rejects the wrong length or characters",
        arguments: [
            "",
            "0123456789abcdefghjkmnpqr",  // 25
            "0123456789abcdefghjkmnpqrst",  // 27
            "0123456789ABCDEFGHJKMNPQRS",  // upper case
            "0123456789abcdefghjkmnpqri",  // i is not in the alphabet
            "0123456789abcdefghjkmnpqrl",  // l
            "0123456789abcdefghjkmnpqro",  // o
            "0123456789abcdefghjkmnpqru",  // u
            "0123456789abcdefghjkmnpqr-",
            "0123456789abcdefghjkmnpqr ",
            " 0123456789abcdefghjkmnpqr",
            "0123456789abcdefghjkmnpqré",
            "0123456789abcdefghjkmnpqre\u{301}",  // 27 scalars forming 26 characters
            "0123456789abcdefghjkmnpq\u{0}r",
            "8123456789abcdefghjkmnpqrs",  // more than 128 bits
        ])
    func rejectsMalformed(text: String) {
        #expect(JobID(text) == nil)
    }

    @Test("JobID(_:) accepts every character of the alphabet")
    func acceptsAlphabet() {
        #expect(JobID("0123456789abcdefghjkmnpqrs") != nil)
        #expect(JobID("00000000tvwxyztvwxyztvwxyz") != nil)
    }

    @Test("Codable round trip, and a decoding error for a bad id")
    func codable() throws {
        struct Holder: Codable, Equatable { var id: JobID }
        let holder = Holder(id: JobID.generate())
        let data = try JSONEncoder().encode(holder)
        #expect(String(decoding: data, as: UTF8.self) == #"{"id":"\#(holder.id.rawValue)"}"#)
        #expect(try JSONDecoder().decode(Holder.self, from: data) == holder)

        for bad in [#"{"id":"NOT-AN-ID"}"#, #"{"id":"0123456789abcdefghjkmnpqrst"}"#, #"{"id":42}"#, #"{"id":null}"#] {
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(Holder.self, from: Data(bad.utf8)) }
        }
        do {
            _ = try JSONDecoder().decode(Holder.self, from: Data(#"{"id":"NOT-AN-ID"}"#.utf8))
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.codingPath.map(\.stringValue) == ["id"])
            #expect(context.debugDescription.contains("NOT-AN-ID"))
        }
    }
}
