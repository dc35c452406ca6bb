import CSQLite
import Foundation

/// An SQLite error, with SQLite's own result code name (e.g. `SQLITE_BUSY`).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String

    public var codeName: String { String(cString: sqlite3_errstr(code)) }
    public var description: String { "SQLite error \(code) (\(codeName)): \(message)" }
}

/// One SQLite connection, reachable only inside `withConnection { }` behind a lock.
///
/// `@unchecked Sendable`: the connection and its statement cache are only used while `lock` is held.
public final class SQLiteDatabase: @unchecked Sendable {
    private let connection: OpaquePointer
    private let lock = NSLock()
    /// Prepared statements by SQL text; guarded by `lock`.
    private var statements: [String: OpaquePointer] = [:]

    /// Opens (creating if needed) the database at `path` in WAL mode.
    public init(path: String, readOnly: Bool = false) throws {
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let result = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(code: result, message: "\(path): \(message)")
        }
        connection = handle
        sqlite3_busy_timeout(handle, 10_000)
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
        }
        try execute("PRAGMA foreign_keys = ON")
    }

    deinit {
        statements.values.forEach { sqlite3_finalize($0) }
        sqlite3_close_v2(connection)
    }

    /// Runs `body` with exclusive use of the connection, outside any explicit transaction.
    public func read<Result>(_ body: (inout SQLiteConnection) throws -> Result) throws -> Result {
        try lock.withLock {
            var connection = SQLiteConnection(handle: self.connection, statements: statements)
            defer { statements = connection.statements }
            return try body(&connection)
        }
    }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE … COMMIT, rolled back if it throws).
    public func write<Result>(_ body: (inout SQLiteConnection) throws -> Result) throws -> Result {
        try lock.withLock {
            var connection = SQLiteConnection(handle: self.connection, statements: statements)
            defer { statements = connection.statements }
            try connection.execute("BEGIN IMMEDIATE")
            do {
                let result = try body(&connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs one statement without results.
    public func execute(_ sql: String) throws {
        try read { connection in try connection.execute(sql) }
    }
}

/// A value bound to or read from a statement.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    public var int: Int64? { if case .integer(let value) = self { value } else { nil } }
    public var double: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    public var string: String? { if case .text(let value) = self { value } else { nil } }
}

/// The connection as lent by `SQLiteDatabase`; caches prepared statements by SQL text.
public struct SQLiteConnection {
    let handle: OpaquePointer
    var statements: [String: OpaquePointer]

    /// Runs SQL (possibly several statements) without parameters or results.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        guard result == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? ""
            sqlite3_free(message)
            throw SQLiteError(code: result, message: text)
        }
    }

    /// Runs a statement with parameters; returns its rows.
    @discardableResult
    public mutating func query(_ sql: String, _ parameters: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            let result: Int32
            switch parameter {
            case .null: result = sqlite3_bind_null(statement, position)
            case .integer(let value): result = sqlite3_bind_int64(statement, position, value)
            case .real(let value): result = sqlite3_bind_double(statement, position, value)
            case .text(let value): result = sqlite3_bind_text(statement, position, value, -1, csqlite_transient())
            }
            guard result == SQLITE_OK else { throw error(result) }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return rows }
            guard result == SQLITE_ROW else { throw error(result) }
            rows.append(
                (0..<sqlite3_column_count(statement)).map { column in
                    switch sqlite3_column_type(statement, column) {
                    case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, column))
                    case SQLITE_FLOAT: .real(sqlite3_column_double(statement, column))
                    case SQLITE_NULL: .null
                    default: .text(String(cString: sqlite3_column_text(statement, column)))
                    }
                })
        }
    }

    private mutating func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else { throw error(result) }
        statements[sql] = statement
        return statement
    }

    private func error(_ code: Int32) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }
}
