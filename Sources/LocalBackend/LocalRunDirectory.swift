import Foundation
import Glibc
import LocalSupervision
import TrainyardCore

/// The per-run directory of one attempt, `<state dir>/runs/<resource name>/`, as the worker
/// reads and writes it; `RunFiles` lists its files.
struct LocalRunDirectory {
    let url: URL
    let files: RunFiles

    init(stateDirectory: URL, resourceName: String) {
        url = stateDirectory.appendingPathComponent("runs", isDirectory: true).appendingPathComponent(resourceName, isDirectory: true)
        files = RunFiles(directory: url.path)
    }

    var exists: Bool { RunFiles.exists(files.directory) }

    func read<Record: Decodable>(_ type: Record.Type, from path: String) -> Record? {
        guard let bytes = RunFiles.read(path) else { return nil }
        return try? WireFormat.decoder().decode(Record.self, from: Data(bytes))
    }

    /// Writes `record` to `path` only if it does not exist yet; returns false if it did.
    @discardableResult
    func create<Record: Encodable>(_ record: Record, at path: String) throws -> Bool {
        try create(bytes: Array(WireFormat.encoder().encode(record)), at: path)
    }

    /// Writes `bytes` to `path` only if it does not exist yet; returns false if it did. (A label of
    /// its own: unlabelled, a call from the generic `create` above chose that one again, with the
    /// bytes as the record, and recursed without end.)
    @discardableResult
    func create(bytes: [UInt8], at path: String) throws -> Bool {
        switch RunFiles.create(path, with: bytes) {
        case .created: return true
        case .existed: return false
        case .failed(let code): throw POSIXError.current("create \(path)", code: code)
        }
    }
}

extension POSIXError {
    /// The error `code` (default: `errno`), with what was being done.
    static func current(_ operation: String, code: Int32 = errno) -> Error {
        NSError(
            domain: NSPOSIXErrorDomain, code: Int(code), userInfo: [NSLocalizedDescriptionKey: "\(operation): \(String(cString: strerror(code)))"])
    }
}
