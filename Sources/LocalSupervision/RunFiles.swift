import Glibc

/// The files of one attempt's run directory, `<state dir>/runs/<resource name>/`, and the
/// plain-C ways the supervisor writes them (it links no Foundation, so that starting it costs
/// about as much as starting the job).
///
/// - `supervisor.lock`: a POSIX record lock held by the supervisor for its whole life.
/// - `started.json`: created (once, `link(2)`) just before the job starts: `startedAt`, `supervisorPID`.
/// - `process.json`: the job's `pid` and `pidNamespace` (so a successor can kill what a lost
///   supervisor left behind).
/// - `cancel`: the cancel reason; its presence is the request.
/// - `status.json`: the outcome, created once by whoever decides it first.
/// - `stdout.log`, `stderr.log`: the job's output; `supervisor.log`: only when the supervisor has
///   something to say; `work/`: the job's working directory.
public struct RunFiles: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var lock: String { directory + "/supervisor.lock" }
    public var started: String { directory + "/started.json" }
    public var process: String { directory + "/process.json" }
    public var cancel: String { directory + "/cancel" }
    public var status: String { directory + "/status.json" }
    public var stdout: String { directory + "/stdout.log" }
    public var stderr: String { directory + "/stderr.log" }
    public var supervisorLog: String { directory + "/supervisor.log" }
    public var work: String { directory + "/work" }

    /// The whole content of `path`, or nil when it cannot be read.
    public static func read(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? bytes : nil }
            bytes += buffer[..<count]
        }
    }

    /// Writes `bytes` to a new temporary file next to `path`; returns its name.
    private static func temporary(for path: String, _ bytes: [UInt8]) -> String? {
        let name = "\(path).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                unlink(name)
                return nil
            }
            written += count
        }
        return name
    }

    /// Replaces `path` with `bytes` atomically (readers never see half a file).
    @discardableResult
    public static func replace(_ path: String, with bytes: [UInt8]) -> Bool {
        guard let temporary = temporary(for: path, bytes) else { return false }
        if rename(temporary, path) == 0 { return true }
        unlink(temporary)
        return false
    }

    /// Creates `path` with `bytes` only if it does not exist yet (`link(2)` fails atomically when
    /// it does). Returns `.created`, `.existed`, or `.failed` with the errno.
    public static func create(_ path: String, with bytes: [UInt8]) -> CreateResult {
        guard let temporary = temporary(for: path, bytes) else { return .failed(errno) }
        defer { unlink(temporary) }
        if link(temporary, path) == 0 { return .created }
        return errno == EEXIST ? .existed : .failed(errno)
    }

    public enum CreateResult: Equatable, Sendable {
        case created, existed
        case failed(Int32)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// The job's process as the supervisor recorded it in `process.json`.
public struct RunProcess: Sendable, Equatable {
    public var pid: Int32
    /// `pid:[inode]` of the PID namespace `pid` belongs to: a pid means nothing in another one.
    public var pidNamespace: String

    public init(pid: Int32, pidNamespace: String) {
        self.pid = pid
        self.pidNamespace = pidNamespace
    }

    public var json: [UInt8] { JSONText.object([("pid", String(pid)), ("pidNamespace", JSONText.string(pidNamespace))]) }

    /// Reads the record as `json` writes it (no general JSON parser: this module links no Foundation).
    public init?(json: [UInt8]) {
        let text = String(decoding: json, as: UTF8.self)
        guard let pidKey = text.firstRange(of: "\"pid\":"), let namespaceKey = text.firstRange(of: "\"pidNamespace\":\"") else { return nil }
        guard let pid = Int32(text[pidKey.upperBound...].prefix { $0.isNumber }), pid > 0 else { return nil }
        self.init(pid: pid, pidNamespace: String(text[namespaceKey.upperBound...].prefix { $0 != "\"" }))
    }

    public static func read(_ path: String) -> RunProcess? {
        RunFiles.read(path).flatMap { RunProcess(json: $0) }
    }

    /// This process's PID namespace, e.g. `pid:[4026531836]`.
    public static var currentNamespace: String {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        guard count > 0 else { return "" }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Kills the job's process group with SIGKILL, only when its pid is one of this namespace.
    public func killGroup() {
        guard !pidNamespace.isEmpty, pidNamespace == Self.currentNamespace else { return }
        kill(-pid, SIGKILL)
    }
}

/// JSON text for the records the supervisor writes (read back with Codable by the local backend).
enum JSONText {
    static func string(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }

    /// `{"a":…,"b":…}` from key/value-text pairs, keys sorted (as the wire format writes them).
    static func object(_ fields: [(String, String)]) -> [UInt8] {
        Array(("{" + fields.sorted { $0.0 < $1.0 }.map { "\(string($0.0)):\($0.1)" }.joined(separator: ",") + "}").utf8)
    }
}

/// Wall-clock timestamps in the wire format: `2026-11-29T04:05:06.789Z`.
enum Timestamp {
    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))T"
            + "\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2)).\(padded(Int32(time.tv_nsec / 1_000_000), 3))Z"
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
