import Testing
import TrainyardCore

/// `SHA256` against published test vectors and against GNU coreutils at the padding boundaries.
@Suite("SHA256")
struct SHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var label: String
        var message: [UInt8]
        var hex: String
        var testDescription: String { label }
    }

    /// FIPS 180-4 / NIST CSRC example values (SHA256.pdf, "Examples with Intermediate Values").
    static let nistVectors: [Vector] = [
        Vector(
            label: "empty", message: [],
            hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        Vector(
            label: "abc", message: Array("abc".utf8),
            hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        Vector(
            label: "448-bit two-block message", message: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
            hex: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    /// Padding boundaries: 55 bytes is the longest message whose length fits in its one block,
    /// 56 and 57 spill into a second block, 63/64/65 straddle a full block.
    /// Expected values were computed on this machine with GNU coreutils 9.1 `sha256sum`, e.g.
    /// `head -c 56 /dev/zero | tr '\0' a | sha256sum` and
    /// `python3 -c "import sys; sys.stdout.buffer.write(bytes(range(56)))" | sha256sum`.
    static let boundaryVectors: [Vector] = [
        Vector(
            label: "55 × a", message: Array(repeating: 0x61, count: 55),
            hex: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        Vector(
            label: "56 × a", message: Array(repeating: 0x61, count: 56),
            hex: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        Vector(
            label: "57 × a", message: Array(repeating: 0x61, count: 57),
            hex: "f13b2d724659eb3bf47f2dd6af1accc87b81f09f59f2b75e5c0bed6589dfe8c6"),
        Vector(
            label: "63 × a", message: Array(repeating: 0x61, count: 63),
            hex: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        Vector(
            label: "64 × a", message: Array(repeating: 0x61, count: 64),
            hex: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        Vector(
            label: "65 × a", message: Array(repeating: 0x61, count: 65),
            hex: "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        Vector(
            label: "bytes 0..<55", message: Array(0..<55),
            hex: "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59"),
        Vector(
            label: "bytes 0..<56", message: Array(0..<56),
            hex: "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562"),
        Vector(
            label: "bytes 0..<57", message: Array(0..<57),
            hex: "2fe741af801cc238602ac0ec6a7b0c3a8a87c7fc7d7f02a3fe03d1c12eac4d8f"),
        Vector(
            label: "bytes 0..<64", message: Array(0..<64),
            hex: "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"),
    ]

    @Test("NIST vectors", arguments: nistVectors)
    func nist(_ vector: Vector) {
        #expect(SHA256.hexDigest(vector.message) == vector.hex)
    }

    @Test("one million 'a' (NIST long message)")
    func millionA() {
        let message = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(SHA256.hexDigest(message) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("padding boundaries match sha256sum", arguments: boundaryVectors)
    func boundaries(_ vector: Vector) {
        #expect(SHA256.hexDigest(vector.message) == vector.hex)
    }

    @Test("hash is the 32 bytes that hexDigest spells")
    func hashBytes() {
        let digest = SHA256.hash(Array("abc".utf8))
        #expect(digest.count == 32)
        #expect(digest.prefix(4) == [0xBA, 0x78, 0x16, 0xBF])
        #expect(digest.suffix(4) == [0xF2, 0x00, 0x15, 0xAD])
        #expect(SHA256.hexDigest(Array("abc".utf8)).count == 64)
    }
}
