import SageMakerBackend
import Testing
import TrainyardCore

@Suite struct InstanceTypeTableTests {
    let table = InstanceTypeTable()

    static let cases: [(Resources, String)] = [
        (Resources(cpu: 1, memoryMiB: 1024), "ml.m5.large"),
        (Resources(cpu: 2, memoryMiB: 8192), "ml.m5.large"),
        (Resources(cpu: 4, memoryMiB: 8192), "ml.c5.xlarge"),  // cheaper than m5.xlarge when 8 GiB suffice
        (Resources(cpu: 4, memoryMiB: 9000), "ml.m5.xlarge"),
        (Resources(cpu: 0.5, memoryMiB: 512, gpu: 1), "ml.g4dn.xlarge"),
        (Resources(cpu: 16, memoryMiB: 100_000, gpu: 1), "ml.g4dn.12xlarge"),
        (Resources(cpu: 8, memoryMiB: 500_000, gpu: 8), "ml.g5.48xlarge"),  // 488 GiB on p3.16xlarge is just short
        (Resources(cpu: 1, memoryMiB: 1024, instanceType: "ml.trn1.2xlarge"), "ml.trn1.2xlarge"),
    ]

    @Test func cheapestFittingTypeOrTheExplicitOne() throws {
        for (resources, expected) in Self.cases {
            #expect(try table.choose(for: resources).get() == expected, "\(resources)")
        }
    }

    @Test func everyChoiceSatisfiesTheRequestAndNothingCheaperDoes() {
        for cpu in [0.5, 2, 6, 20, 50] {
            for memoryMiB in [1024, 20_000, 150_000] {
                for gpu in [0, 1, 4] {
                    let resources = Resources(cpu: cpu, memoryMiB: memoryMiB, gpu: gpu)
                    guard case .success(let name) = table.choose(for: resources), let chosen = table.types.first(where: { $0.name == name }) else {
                        continue
                    }
                    let fits = { (type: InstanceType) in Double(type.vcpu) >= cpu && type.memoryGiB * 1024 >= Double(memoryMiB) && type.gpus >= gpu }
                    #expect(fits(chosen))
                    #expect(!table.types.contains { fits($0) && $0.hourlyPriceUSD < chosen.hourlyPriceUSD })
                }
            }
        }
    }

    @Test func impossibleRequestsNameTheLargestType() {
        guard case .failure(let error) = table.choose(for: Resources(cpu: 8, memoryMiB: 1024, gpu: 16)) else {
            Issue.record("16 GPUs fit nothing in the table")
            return
        }
        #expect(error.message.contains("16 GPU(s)") && error.message.contains("ml.g5.48xlarge"))
    }
}
