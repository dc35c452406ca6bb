import Foundation
import Glibc

/// The Python test peers of `ops/test-peers`, run with the interpreter `./ops/test` provides.
public enum TestPython {
    /// `TRAINYARD_TEST_PYTHON`: a venv with `ops/requirements-test.txt`. Tests fail without it.
    public static func interpreter() throws -> URL { try TestEnvironment.python() }

    /// `ops/test-peers/<name>` in this checkout.
    public static func peerScript(_ name: String) -> URL { TestEnvironment.repositoryFile("ops/test-peers/\(name)") }

    /// Starts `ops/test-peers/<script>` in the background, stderr to `log`, and returns it with
    /// the first line it prints on stdout (peers print where they listen, then serve).
    public static func startPeer(_ script: String, arguments: [String], log: URL, stdin: Pipe? = nil) throws -> (
        process: Process, firstLine: String
    ) {
        let process = Process()
        process.executableURL = try interpreter()
        process.arguments = [peerScript(script).path] + arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        if let stdin { process.standardInput = stdin }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        var line = Data()
        while true {
            let byte = stdout.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard !line.isEmpty else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw TestEnvironment.Missing(description: "\(script) exited before it printed where it listens; see \(log.path)")
        }
        return (process, String(decoding: line, as: UTF8.self))
    }

    /// The port in a peer's `PORT <n>` announcement line.
    public static func port(announcedIn line: String) -> Int? {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.hasPrefix("PORT ") ? Int(text.dropFirst(5)) : nil
    }

    /// Stops a peer started by `startPeer`. SIGKILL: children of the test process inherit its
    /// blocked signal mask, so a SIGTERM may never arrive; a peer has nothing to flush.
    public static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs a peer script to completion with `input` on stdin; returns its stdout, throws on a non-zero exit.
    public static func run(_ script: String, arguments: [String] = [], input: Data) async throws -> Data {
        let process = Process()
        process.executableURL = try interpreter()
        process.arguments = [peerScript(script).path] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Write and read concurrently so a large output cannot block the child.
        let writer = Thread {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        async let reading = TestEnvironment.offThePool { stdout.fileHandleForReading.readDataToEndOfFile() }
        async let readingErrors = TestEnvironment.offThePool { stderr.fileHandleForReading.readDataToEndOfFile() }
        let (output, errors) = try await (reading, readingErrors)
        try await TestEnvironment.offThePool { process.waitUntilExit() }
        guard process.terminationStatus == 0 else {
            throw TestEnvironment.Missing(description: "\(script) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return output
    }
}
