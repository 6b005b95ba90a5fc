"""Several simulated nodes at once (for `b3scale sim`, tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from b3scale.bbb import checksum
from b3scale.sim.node import SimNode


@dataclass
class Fleet:
    count: int
    host: str = "127.0.0.1"
    #: The first node's port; the others follow. 0 = free ports.
    base_port: int = 0
    #: Node i's secret is f"{secret_prefix}{i}".
    secret_prefix: str = "sim-secret-"
    redis_url: str | None = None
    algorithms: tuple[str, ...] = tuple(checksum.ALGORITHMS)
    latency: float = 0.0
    nodes: list[SimNode] = field(default_factory=list)

    async def start(self) -> list[SimNode]:
        for i in range(1, self.count + 1):
            node = SimNode(
                secret=f"{self.secret_prefix}{i}",
                supported_algorithms=self.algorithms,
                redis_url=self.redis_url,
                host=self.host,
                port=self.base_port + i - 1 if self.base_port else 0,
            )
            node.faults.latency = self.latency
            await node.start()
            self.nodes.append(node)
        return self.nodes

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()
        self.nodes.clear()
