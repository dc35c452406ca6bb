import Foundation
import Glibc
import TrainyardCore

/// The per-run directory of one attempt: `<state dir>/runs/<resource name>/`.
///
/// Files (each written atomically; `started.json` and `status.json` create-only, so the first
/// writer wins and nothing is ever overwritten):
/// `request.json`, `supervisor.lock`, `started.json`, `process.json`, `cancel.json`,
/// `status.json`, `stdout.log`, `stderr.log`, `supervisor.log`, `work/` (the job's cwd).
struct LocalRunDirectory {
    let url: URL

    init(stateDirectory: URL, resourceName: String) {
        url = stateDirectory.appendingPathComponent("runs", isDirectory: true).appendingPathComponent(resourceName, isDirectory: true)
    }

    init(url: URL) { self.url = url }

    var request: URL { url.appendingPathComponent("request.json") }
    var lock: URL { url.appendingPathComponent("supervisor.lock") }
    var started: URL { url.appendingPathComponent("started.json") }
    var process: URL { url.appendingPathComponent("process.json") }
    var cancel: URL { url.appendingPathComponent("cancel.json") }
    var status: URL { url.appendingPathComponent("status.json") }
    var stdout: URL { url.appendingPathComponent("stdout.log") }
    var stderr: URL { url.appendingPathComponent("stderr.log") }
    var supervisorLog: URL { url.appendingPathComponent("supervisor.log") }
    var work: URL { url.appendingPathComponent("work", isDirectory: true) }

    var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    func read<Record: Decodable>(_ type: Record.Type, from file: URL) -> Record? {
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        return try? WireFormat.decoder().decode(Record.self, from: data)
    }

    /// Writes `record` to `file` through a temporary file and `rename` (readers never see half a file).
    func write<Record: Encodable>(_ record: Record, to file: URL) throws {
        let temporary = url.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
        try WireFormat.encoder().encode(record).write(to: temporary)
        guard rename(temporary.path, file.path) == 0 else { throw POSIXError.current("rename \(file.lastPathComponent)") }
    }

    /// Writes `record` to `file` only if `file` does not exist yet; returns false if it did.
    /// Uses `link(2)`, which fails atomically when the target exists.
    @discardableResult
    func create<Record: Encodable>(_ record: Record, at file: URL) throws -> Bool {
        let temporary = url.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        try WireFormat.encoder().encode(record).write(to: temporary)
        defer { unlink(temporary.path) }
        if link(temporary.path, file.path) == 0 { return true }
        if errno == EEXIST { return false }
        throw POSIXError.current("link \(file.lastPathComponent)")
    }
}

extension POSIXError {
    /// The error in `errno`, with what was being done.
    static func current(_ operation: String) -> Error {
        let code = errno
        return NSError(
            domain: NSPOSIXErrorDomain, code: Int(code), userInfo: [NSLocalizedDescriptionKey: "\(operation): \(String(cString: strerror(code)))"])
    }
}
