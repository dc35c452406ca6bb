import Foundation
import TrainyardCore
import Yams

/// Who made a request: a team's key (sees and acts on that team's jobs only) or an admin key.
public struct Principal: Sendable, Hashable {
    /// The key's name from the key file (for audit logs; never the key itself).
    public var name: String
    /// The team the key belongs to; nil for an admin key.
    public var team: String?

    public init(name: String, team: String?) {
        self.name = name
        self.team = team
    }

    public var isAdmin: Bool { team == nil }

    /// True when this principal may see and cancel `team`'s jobs.
    public func canAccess(team other: String) -> Bool { team == nil || team == other }
}

/// One entry of the key file: a key's SHA-256 (never the key) mapped to a team or to admin.
public struct APIKeyEntry: Codable, Sendable, Equatable {
    public var name: String
    /// Lowercase hex of the SHA-256 of the key's UTF-8 bytes.
    public var sha256: String
    public var team: String?
    public var admin: Bool?

    public init(name: String, sha256: String, team: String? = nil, admin: Bool? = nil) {
        self.name = name
        self.sha256 = sha256
        self.team = team
        self.admin = admin
    }
}

/// The API key file (YAML):
///
/// ```yaml
/// keys:
///   - {name: ci, sha256: 5e88…, team: vision}
///   - {name: ops, sha256: 9f86…, admin: true}
/// ```
public struct APIKeyFile: Sendable {
    /// Prefix of every generated key, so a leaked key is recognisable (e.g. by secret scanners).
    public static let keyPrefix = "ty_"

    public var entries: [APIKeyEntry]

    public init(entries: [APIKeyEntry]) { self.entries = entries }

    /// Reads and checks a key file.
    /// - Throws: `APIKeyFileError` naming the entry and what is wrong with it.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw APIKeyFileError("\(path): cannot read")
        }
        try self.init(yaml: text, source: path)
    }

    /// Parses key-file text; `source` names it in errors.
    public init(yaml text: String, source: String = "api keys") throws {
        struct Document: Decodable { var keys: [APIKeyEntry]? }
        let document: Document
        do {
            document = try YAMLDecoder().decode(Document.self, from: text)
        } catch {
            throw APIKeyFileError("\(source): not a key file (expected 'keys:' with a list of {name, sha256, team | admin: true}): \(error)")
        }
        entries = document.keys ?? []
        var hashes = Set<String>()
        for (index, entry) in entries.enumerated() {
            let place = "\(source): keys[\(index)] (\(entry.name))"
            guard !entry.name.isEmpty else { throw APIKeyFileError("\(place): name is empty") }
            guard entry.sha256.count == 64, entry.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw APIKeyFileError("\(place): sha256 must be 64 lowercase hex digits")
            }
            guard (entry.admin == true) != (entry.team != nil) else {
                throw APIKeyFileError("\(place): give exactly one of team: <team> or admin: true")
            }
            if let team = entry.team, team.isEmpty { throw APIKeyFileError("\(place): team is empty") }
            guard hashes.insert(entry.sha256).inserted else { throw APIKeyFileError("\(place): the same key is listed twice") }
        }
    }

    /// A new key: `ty_` and 64 hex digits (32 bytes from the system's random generator).
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return keyPrefix + bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The hex SHA-256 stored for `key`.
    public static func hash(_ key: String) -> String { SHA256.hexDigest(Array(key.utf8)) }

    /// Appends an entry for `key` to the file at `path` (created with mode 0600 when missing;
    /// an existing file is set to 0600). Existing text and comments are kept.
    /// - Throws: `APIKeyFileError` when the file is not a valid key file or already has `name`.
    public static func append(key: String, name: String, team: String?, to path: String) throws {
        let manager = FileManager.default
        var text = ""
        if manager.fileExists(atPath: path) {
            let existing = try APIKeyFile(contentsOf: path)
            guard !existing.entries.contains(where: { $0.name == name }) else { throw APIKeyFileError("\(path) already has a key named \(name)") }
            text = String(decoding: manager.contents(atPath: path) ?? Data(), as: UTF8.self)
            if existing.entries.isEmpty && !text.contains("keys:") { text += "keys:\n" }
        } else {
            try manager.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            text = "# Trainyard API keys: SHA-256 of each key, never the key (trainyard api-key create).\nkeys:\n"
        }
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        let owner = team.map { "team: \(quoted($0))" } ?? "admin: true"
        text += "  - {name: \(quoted(name)), sha256: \(hash(key)), \(owner)}\n"
        // Written to a 0600 temporary file, then renamed over the old one.
        let temporary = path + ".tmp"
        guard manager.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw APIKeyFileError("cannot write \(temporary)")
        }
        try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary)
        guard rename(temporary, path) == 0 else { throw APIKeyFileError("cannot replace \(path): errno \(errno)") }
        // The result must still parse (and have the entry).
        _ = try APIKeyFile(contentsOf: path)
    }

    /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
    private static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

/// A key file that cannot be used, and why.
public struct APIKeyFileError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Maps presented keys to principals. Keys are compared by hash, in constant time over every
/// entry, so neither timing nor logs reveal a key or which entry came close.
public struct APIKeyRing: Sendable {
    private let entries: [(hash: [UInt8], principal: Principal)]

    public init(_ file: APIKeyFile) {
        entries = file.entries.map { entry in
            (Array(entry.sha256.utf8), Principal(name: entry.name, team: entry.admin == true ? nil : entry.team))
        }
    }

    /// The principal `key` belongs to, or nil.
    public func principal(for key: String) -> Principal? {
        let presented = Array(APIKeyFile.hash(key).utf8)
        var match: Principal?
        for entry in entries where Self.constantTimeEqual(entry.hash, presented) {
            match = entry.principal
        }
        return match
    }

    /// Compares all bytes whatever the first difference.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
