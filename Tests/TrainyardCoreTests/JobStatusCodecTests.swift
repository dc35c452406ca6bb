import Foundation
import Testing
import TrainyardCore

/// `JobStatusCodec`: the status topic's messages (docs/wire-format.md, "Status topic").
@Suite("JobStatusCodec")
struct JobStatusCodecTests {
    static let jobID = JobID("01m8jrzxz3hdsdw7z6a0z8y3g1")!

    static func time(_ text: String) -> Date { WireFormat.parseTimestamp(text)! }

    /// The example of docs/wire-format.md.
    static let succeeded = JobStatusMessage(
        jobID: jobID, team: "ml-platform", name: "nightly-features", kind: "processing", state: .succeeded, attempt: 1, stateSource: .backend,
        backend: "local", resourceName: "ty-01m8jrzxz3hdsdw7z6a0z8y3g1-a1", exitCode: 0, submittedAt: time("2026-11-29T04:28:41.827Z"),
        claimedAt: time("2026-11-29T04:28:42.113Z"), startedAt: time("2026-11-29T04:28:42.980Z"), finishedAt: time("2026-11-29T04:28:47.629Z"),
        updatedAt: time("2026-11-29T04:28:47.629Z"), queueWaitSeconds: 0.286, runSeconds: 4.649)

    @Test("the documented example is exactly what is written, and reads back equal")
    func documentedExample() throws {
        let bytes = try JobStatusCodec.encode(Self.succeeded)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"attempt":1,"backend":"local","claimedAt":"2026-11-29T04:28:42.113Z","exitCode":0,"finishedAt":"2026-11-29T04:28:47.629Z","jobId":"01m8jrzxz3hdsdw7z6a0z8y3g1","kind":"processing","name":"nightly-features","queueWaitSeconds":0.286,"resourceName":"ty-01m8jrzxz3hdsdw7z6a0z8y3g1-a1","runSeconds":4.649,"schema":1,"startedAt":"2026-11-29T04:28:42.980Z","state":"SUCCEEDED","stateSource":"backend","submittedAt":"2026-11-29T04:28:41.827Z","team":"ml-platform","updatedAt":"2026-11-29T04:28:47.629Z"}"#
        )
        #expect(try JobStatusCodec.decode(bytes) == Self.succeeded)
    }

    @Test("absent fields are not written; durations are kept to the millisecond")
    func bareAndRounded() throws {
        let queued = JobStatusMessage(
            jobID: Self.jobID, team: "t", state: .queued, attempt: 0, stateSource: .aggregator, updatedAt: Self.time("2026-11-29T04:28:41.827Z"),
            queueWaitSeconds: 2.123 - 1e-12)
        #expect(queued.queueWaitSeconds == 2.123)
        let bytes = try JobStatusCodec.encode(queued)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"attempt":0,"jobId":"01m8jrzxz3hdsdw7z6a0z8y3g1","queueWaitSeconds":2.123,"schema":1,"state":"QUEUED","stateSource":"aggregator","team":"t","updatedAt":"2026-11-29T04:28:41.827Z"}"#
        )
        #expect(try JobStatusCodec.decode(bytes) == queued)
    }

    @Test("another schema version is refused with a message that says so")
    func unknownSchema() throws {
        var text = String(decoding: try JobStatusCodec.encode(Self.succeeded), as: UTF8.self)
        text = text.replacingOccurrences(of: #""schema":1"#, with: #""schema":2"#)
        #expect {
            try JobStatusCodec.decode(Data(text.utf8))
        } throws: { error in
            "\(error)".contains("status schema version 2 is not supported")
        }
    }
}
