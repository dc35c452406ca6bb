/// A tiny seeded generator (SplitMix64, Steele et al. 2014) so property and fuzz tests are
/// reproducible: every failure message prints the seed that produced it.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A different, deterministic seed per case of a loop, derived from a base seed.
    public static func seed(_ base: UInt64, case index: Int) -> UInt64 {
        var mixer = SplitMix64(seed: base ^ UInt64(index) &* 0x2545_F491_4F6C_DD1D)
        return mixer.next()
    }
}
