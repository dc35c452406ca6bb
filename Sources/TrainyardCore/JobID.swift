import Foundation
import Synchronization

/// A job's identity: 26 lowercase Crockford base32 characters.
///
/// Fresh ids start with the submission time in milliseconds, so they sort by age. An id derived
/// from a client idempotency key is a hash of (team, key), so resubmitting yields the same id.
/// Both forms are valid in SageMaker names and Kubernetes DNS labels.
public struct JobID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")
    public static let length = 26

    /// Accepts exactly the form this type produces.
    public init?(_ text: String) {
        // 128 bits in 26 characters: the first carries only 3 bits.
        guard JobID.isValid(text.utf8) else { return nil }
        rawValue = text
    }

    /// Exactly 26 bytes of the alphabet, the first one of 0…7 (a byte check: ids are parsed per message).
    private static func isValid(_ bytes: String.UTF8View) -> Bool {
        guard bytes.count == length, let first = bytes.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "7") else { return false }
        return bytes.allSatisfy { byte in isAlphabetByte[Int(byte)] }
    }

    /// Indexed by byte value.
    private static let isAlphabetByte = (0..<256).map { alphabet.contains(Character(Unicode.Scalar(UInt8($0)))) }

    /// A new, time-ordered id. Within one process, ids generated in the same millisecond still
    /// sort in generation order (the random part is incremented, as in monotonic ULIDs).
    public static func generate(at date: Date = Date()) -> JobID {
        let millis = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded()))
        let random = lastGenerated.withLock { last -> (UInt16, UInt64) in
            if last.millis == millis, last.random.1 < UInt64.max {
                last.random.1 += 1
            } else {
                var generator = SystemRandomNumberGenerator()
                // The top bit stays clear so increments within a millisecond never overflow.
                last.random = (UInt16.random(in: 0...UInt16.max, using: &generator), UInt64.random(in: 0...(UInt64.max >> 1), using: &generator))
            }
            last.millis = millis
            return last.random
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for shift in 0..<6 { bytes[shift] = UInt8(truncatingIfNeeded: millis >> UInt64(8 * (5 - shift))) }
        bytes[6] = UInt8(truncatingIfNeeded: random.0 >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: random.0)
        for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: random.1 >> UInt64(8 * (7 - index))) }
        return JobID(unchecked: encode(bytes))
    }

    private static let lastGenerated = Mutex<(millis: UInt64, random: (UInt16, UInt64))>((0, (0, 0)))

    /// The id a (team, idempotency key) pair always maps to.
    public static func derived(team: String, idempotencyKey: String) -> JobID {
        let digest = SHA256.hash(Array("trainyard-job-id\u{0}\(team)\u{0}\(idempotencyKey)".utf8))
        return JobID(unchecked: encode(Array(digest.prefix(16))))
    }

    private init(unchecked: String) { rawValue = unchecked }

    /// 128 bits → 26 base32 characters (the top 2 bits of the first character are zero).
    private static func encode(_ bytes: [UInt8]) -> String {
        var value = (UInt64(0), UInt64(0))
        for index in 0..<8 { value.0 = value.0 << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { value.1 = value.1 << 8 | UInt64(bytes[index]) }
        var characters = [Character](repeating: "0", count: length)
        for position in (0..<length).reversed() {
            characters[position] = alphabet[Int(value.1 & 31)]
            value.1 = value.1 >> 5 | (value.0 & 31) << 59
            value.0 >>= 5
        }
        return String(characters)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = JobID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a job id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}
