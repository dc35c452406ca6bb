import Foundation
import LocalBackend
import Synchronization
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

/// `LocalLogSource` on real run directories: tails, partial lines, follow ending with the attempt.
@Suite("Local log source")
struct LocalLogSourceTests {
    let identity = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "alpha")

    func runDirectory() throws -> (state: URL, stdout: URL, stderr: URL) {
        let state = try TestEnvironment.temporaryDirectory("local-logs")
        let stdout = localLogFile(stateDirectory: state, identity: identity, stream: .stdout)
        try FileManager.default.createDirectory(at: stdout.deletingLastPathComponent(), withIntermediateDirectories: true)
        return (state, stdout, localLogFile(stateDirectory: state, identity: identity, stream: .stderr))
    }

    func text(_ stream: AsyncThrowingStream<String, any Error>) async throws -> String {
        var text = ""
        for try await chunk in stream { text += chunk }
        return text
    }

    @Test("reads stdout, stderr, both and a tail; a last line without a line end comes at the end")
    func reads() async throws {
        let (state, stdout, stderr) = try runDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        try "one\ntwo\nthree".write(to: stdout, atomically: true, encoding: .utf8)
        try "oops\n".write(to: stderr, atomically: true, encoding: .utf8)
        let source = LocalLogSource(stateDirectory: state)
        func read(_ streams: LogStreamSelection, tail: Int? = nil) async throws -> String {
            try await text(try await source.read(LogQuery(identity: identity, streams: streams, tail: tail)) { true })
        }
        #expect(try await read(.stdout) == "one\ntwo\nthree")
        #expect(try await read(.stderr) == "oops\n")
        #expect(try await read(.all) == "one\ntwo\nthreeoops\n")
        #expect(try await read(.stdout, tail: 2) == "two\nthree")
        #expect(try await read(.stdout, tail: 0) == "")
    }

    @Test("a tail of a file larger than one read window")
    func bigTail() async throws {
        let (state, stdout, _) = try runDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let lines = (1...40_000).map { "line \($0) " + String(repeating: "x", count: 20) }
        try (lines.joined(separator: "\n") + "\n").write(to: stdout, atomically: true, encoding: .utf8)
        let source = LocalLogSource(stateDirectory: state)
        let tail = try await text(try await source.read(LogQuery(identity: identity, tail: 30_000)) { true })
        #expect(tail == lines.suffix(30_000).joined(separator: "\n") + "\n")
        let whole = try await text(try await source.read(LogQuery(identity: identity)) { true })
        #expect(whole.utf8.count == lines.joined(separator: "\n").utf8.count + 1)
    }

    @Test("follow yields lines as they are written and ends once the attempt has ended, with everything")
    func follows() async throws {
        let (state, stdout, _) = try runDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        try "first\n".write(to: stdout, atomically: true, encoding: .utf8)
        let ended = Mutex(false)
        let source = LocalLogSource(stateDirectory: state, poller: LogPoller(interval: .milliseconds(10)))
        let stream = try await source.read(LogQuery(identity: identity, follow: true)) { ended.withLock { $0 } }
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() == "first\n")
        let handle = try FileHandle(forWritingTo: stdout)
        handle.seekToEndOfFile()
        handle.write(Data("second\nhalf a li".utf8))
        #expect(try await iterator.next() == "second\n", "complete lines only while the attempt runs")
        handle.write(Data("ne\nno line end".utf8))
        try handle.close()
        ended.withLock { $0 = true }
        var rest = ""
        while let chunk = try await iterator.next() { rest += chunk }
        #expect(rest == "half a line\nno line end")
    }

    @Test("no run directory: notFound at once, or (following) once the attempt has ended")
    func missing() async throws {
        let state = try TestEnvironment.temporaryDirectory("local-logs-none")
        defer { try? FileManager.default.removeItem(at: state) }
        let source = LocalLogSource(stateDirectory: state, poller: LogPoller(interval: .milliseconds(10)))
        await #expect(throws: LogSourceError.self) { _ = try await source.read(LogQuery(identity: identity)) { false } }
        await #expect(throws: LogSourceError.self) { _ = try await source.read(LogQuery(identity: identity, follow: true)) { true } }
    }
}
