import Foundation
import Synchronization
import TrainyardBackends
import TrainyardCore

/// The output files of one local attempt: `<state dir>/runs/ty-<job id>-a<attempt>/stdout.log`
/// and `stderr.log`, written by the attempt's process and kept after it ended.
public func localLogFile(stateDirectory: URL, identity: BackendIdentity, stream: LogStreamSelection) -> URL {
    stateDirectory.appendingPathComponent("runs", isDirectory: true).appendingPathComponent(identity.resourceName, isDirectory: true)
        .appendingPathComponent(stream == .stderr ? "stderr.log" : "stdout.log")
}

/// Reads local attempts' logs from the run directories under a state directory. Whoever reads
/// must see the same files as the worker that ran the attempt: the same host, or a state
/// directory shared by every worker host (docs/logs.md).
public struct LocalLogSource: LogSource {
    public let backendName = "local"
    let stateDirectory: URL
    let poller: LogPoller

    public init(stateDirectory: URL, poller: LogPoller = LogPoller()) {
        self.stateDirectory = stateDirectory
        self.poller = poller
    }

    public func read(_ query: LogQuery, attemptEnded: @escaping @Sendable () async -> Bool) async throws -> AsyncThrowingStream<String, any Error> {
        let streams: [LogStreamSelection] = query.streams == .all ? [.stdout, .stderr] : [query.streams]
        let files = streams.map { localLogFile(stateDirectory: stateDirectory, identity: query.identity, stream: $0) }
        let directory = files[0].deletingLastPathComponent()
        // A followed attempt may not have its directory yet (claimed, not started).
        while !FileManager.default.fileExists(atPath: directory.path) {
            guard query.follow, !(await attemptEnded()) else {
                throw LogSourceError(.notFound, "no run directory \(directory.path) (the attempt ran on another host, or never started)")
            }
            try await Task.sleep(for: poller.interval)
        }
        var readers = files.map { LogFileReader(url: $0) }
        if let tail = query.tail {
            for index in readers.indices { readers[index].skipToLast(lines: tail) }
        }
        let logFiles = LogFiles(readers)
        return poller.stream(follow: query.follow, attemptEnded: attemptEnded) { final in logFiles.read(completeLinesOnly: !final) }
    }
}

/// The readers of one query's files, read in turn by the stream.
final class LogFiles: Sendable {
    private let readers: Mutex<[LogFileReader]>

    init(_ readers: [LogFileReader]) { self.readers = Mutex(readers) }

    /// What each file has after its offset (at most a chunk each), stdout first.
    func read(completeLinesOnly: Bool) -> String {
        readers.withLock { readers in readers.indices.map { readers[$0].readMore(completeLinesOnly: completeLinesOnly) }.joined() }
    }
}

/// Reads a file that may still grow, from a byte offset on, in bounded chunks.
struct LogFileReader {
    static let chunkBytes = 256 * 1024
    let url: URL
    var offset: UInt64 = 0

    /// Moves the offset to the start of the last `lines` lines.
    mutating func skipToLast(lines: Int) {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return }
        var window = UInt64(Self.chunkBytes)
        while true {
            let start = size > window ? size - window : 0
            try? handle.seek(toOffset: start)
            let data = (try? handle.read(upToCount: Int(size - start))) ?? Data()
            let text = String(decoding: data, as: UTF8.self)
            let kept = lastLines(of: text[...], count: lines)
            if kept.startIndex > text.startIndex || start == 0 {
                offset = size - UInt64(kept.utf8.count)
                return
            }
            window *= 4
        }
    }

    /// The bytes from the offset on (at most a chunk), up to the last line end when
    /// `completeLinesOnly`; empty when there is nothing (more) or no file yet.
    mutating func readMore(completeLinesOnly: Bool) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        guard var data = try? handle.read(upToCount: Self.chunkBytes), !data.isEmpty else { return "" }
        if completeLinesOnly || data.count == Self.chunkBytes {
            guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else {
                // A line longer than a chunk goes out in pieces rather than never.
                if data.count < Self.chunkBytes { return "" }
                offset += UInt64(data.count)
                return String(decoding: data, as: UTF8.self)
            }
            data = data[data.startIndex...end]
        }
        offset += UInt64(data.count)
        return String(decoding: data, as: UTF8.self)
    }
}
