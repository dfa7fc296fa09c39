"""Hypervisor mode end to end: agent --hypervisor -> collector -> poolwatch query.

Two sources: libvirt's test driver on tests/fixtures/hypervisor/host.xml (a
host with 20 domains of different sizes and states; the driver reports sizes
and states, no usage), and recorded rounds of a KVM host replayed with
replay:///... (usage counters, a resize, a domain appearing and one leaving).
"""
import os
import subprocess
import tempfile
import unittest

from pwtest import AGENT, BUILD, FIXTURES, PoolwatchTest, wait_until

HV = os.path.join(os.path.abspath(FIXTURES), "hypervisor")
HOST_XML = "test://" + os.path.join(HV, "host.xml")
KVM = "replay://" + os.path.join(HV, "kvm")
STATIC = os.path.join(BUILD, "agent", "poolwatch-agent-static")
GiB = 1 << 30


class Hypervisor(PoolwatchTest):

    def hv_agent(self, uri, *extra):
        # A slower interval than the harness' 100 ms: the hypervisor may take
        # half of it (250 ms) per round before a round goes on without it.
        return self.agent("--hypervisor", uri, "--samplers", "loadavg,hypervisor",
                          "--sys-root", os.path.join(HV, "sys"), "--interval", "500ms", *extra)

    def value(self, selector):
        """The last value of the one series selector matches."""
        series = self.query(selector)
        if len(series) != 1 or not series[0]["points"]:
            return None
        return series[0]["points"][-1][1]

    def test_test_driver_host(self):
        self.collector()
        a = self.hv_agent(HOST_XML)
        wait_until(lambda: len(self.query('poolwatch_vm_info{host="h1"}')) == 20, 30,
                   "20 domains stored")
        self.assertEqual(self.value('poolwatch_hypervisor_up{host="h1"}'), 1)
        # host capacity as the XML's <cpu> and <memory> say
        self.assertEqual(self.value('poolwatch_host_cpu_sockets{host="h1"}'), 2)
        self.assertEqual(self.value('poolwatch_host_cpu_cores{host="h1"}'), 32)
        self.assertEqual(self.value('poolwatch_host_cpu_threads{host="h1"}'), 64)
        self.assertEqual(self.value('poolwatch_host_memory_bytes{host="h1"}'), 1024 * GiB)
        self.assertEqual(self.value('poolwatch_host_nic_speed_bytes{host="h1",device="eno1"}'),
                         1.25e9)
        self.assertEqual(len(self.query('poolwatch_host_storage_pool_capacity_bytes{host="h1"}')), 2)
        # domains: states and sizes
        for state, n in (("running", 12), ("paused", 2), ("shutoff", 3), ("crashed", 1),
                         ("pmsuspended", 1), ("other", 1)):
            self.assertEqual(self.value('poolwatch_hypervisor_domains{host="h1",state="%s"}' % state),
                             n, state)
        self.assertEqual(self.value('poolwatch_vm_vcpus{vm_name="big-01"}'), 64)
        self.assertEqual(self.value('poolwatch_vm_memory_max_bytes{vm_name="big-01"}'), 512 * GiB)
        self.assertEqual(self.value('poolwatch_vm_memory_current_bytes{vm_name="big-01"}'), 480 * GiB)
        self.assertEqual(self.value('poolwatch_vm_state{vm_name="batch-01"}'), 5)
        self.assertEqual(self.value('poolwatch_vm_disk_capacity_bytes{vm_name="app-01",device="vdb"}'),
                         200 * GiB)
        info = self.query('poolwatch_vm_info{vm_name="app-01"}')
        self.assertEqual(info[0]["labels"]["title"], "应用服务器 1")
        self.assertEqual(info[0]["labels"]["vm"], "6a3c1f00-0000-4000-8000-000000000004")
        # every domain's vCPUs, as the XML has them
        vcpus = sum(s["points"][-1][1] for s in self.query('poolwatch_vm_vcpus{host="h1"}'))
        self.assertEqual(vcpus, 213)
        self.assertIn("connected (libvirt source)", a.text())

    def test_replayed_kvm_usage_and_events(self):
        self.collector()
        a = self.hv_agent(KVM)
        # round 3 on: the counters of three rounds and the events of round 2
        wait_until(lambda: self.value(
            'poolwatch_hypervisor_domain_events_total{host="h1",kind="resized"}') == 3, 30,
            "3 resize events")
        wait_until(lambda: len(self.points('poolwatch_vm_cpu_seconds_total{vm_name="vm-02"}')) >= 3,
                   30, "3 points of vm-02's cpu time")
        cpu = [v for _, v in self.points('poolwatch_vm_cpu_seconds_total{vm_name="vm-02"}')]
        self.assertEqual(cpu[:3], [2010, 2020, 2030])
        self.assertEqual(self.value('poolwatch_vm_resized{vm_name="vm-03",what="vcpus"}'), 8)
        self.assertEqual(self.value('poolwatch_vm_resized{vm_name="vm-03",what="memory"}'), 16 * GiB)
        self.assertEqual(self.value('poolwatch_vm_resized{vm_name="vm-05",what="disk",device="vda"}'),
                         80 * GiB)
        self.assertEqual(self.value('poolwatch_hypervisor_domain_events_total{kind="appeared"}'), 1)
        self.assertEqual(self.value('poolwatch_hypervisor_domain_events_total{kind="disappeared"}'), 1)
        rx = self.points('poolwatch_vm_network_receive_bytes_total{vm_name="vm-02",device="vnet1"}')
        self.assertEqual([v for _, v in rx][:3], [200001000, 200002000, 200003000])
        self.assertEqual(self.value('poolwatch_vm_balloon_rss_bytes{vm_name="vm-02"}'),
                         (8 * GiB // 1024 + 200000 + 3) * 1024)
        text = a.text()
        self.assertIn("domain vm-03 (0c8e9a10-5b2f-4c3d-9e7f-000000000003) resized: vcpus 4 -> 8", text)
        self.assertIn("domain vm-13 (0c8e9a10-5b2f-4c3d-9e7f-000000000013) appeared", text)
        self.assertIn("domain vm-12 (0c8e9a10-5b2f-4c3d-9e7f-000000000012) disappeared", text)

    def test_libvirt_unreachable(self):
        """No libvirt to talk to: up 0, logged once, the node's own samples still flow."""
        self.collector()
        a = self.hv_agent("test:///nonexistent/host.xml")
        wait_until(lambda: len(self.points('poolwatch_hypervisor_up{host="h1"}')) >= 3, 30,
                   "3 rounds of poolwatch_hypervisor_up")
        self.assertEqual({v for _, v in self.points('poolwatch_hypervisor_up{host="h1"}')}, {0})
        self.assertTrue(self.points('node_load1{host="h1"}'))
        self.assertEqual(a.text().count("cannot connect to test:///nonexistent/host.xml"), 1)

    def test_once_and_config_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=self.tmp, delete=False) as f:
            f.write("hypervisor: test:///default\nsamplers: hypervisor\n")
        r = subprocess.run([AGENT, "--config", f.name, "--once", "--format", "prom"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('poolwatch_vm_vcpus{vm="6695eb01-f6a4-8304-79aa-97f2502e193f",vm_name="test"} 2',
                      r.stdout)
        self.assertIn("poolwatch_host_cpu_threads 16", r.stdout)

    def test_bad_uri(self):
        r = subprocess.run([AGENT, "--once", "--hypervisor", "qemu"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--hypervisor qemu: not a libvirt URI", r.stderr)

    @unittest.skipUnless(os.path.exists(STATIC), "no poolwatch-agent-static in this build")
    def test_static_agent_has_no_hypervisor(self):
        r = subprocess.run([STATIC, "--once", "--hypervisor", "qemu:///system"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("this build has no hypervisor support", r.stderr)


if __name__ == "__main__":
    unittest.main()
