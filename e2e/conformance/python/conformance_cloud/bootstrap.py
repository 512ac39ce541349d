"""Bootstraps the conformance cloud as the simulator's default world (e2e/src/openstack/config.rs).

Phases, run by cloud.sh in this order (one process each, so the SDK's start-up is paid once):

- ``identity``: projects, users, roles, Heat's domain, services and endpoints (only Keystone
  runs yet: Heat's engine must find its domain when it starts);
- ``world``: waits for every compute and volume service, then flavors, images, the network,
  aggregates with their zones, and checks the volume type;
- ``canary``: one server per zone (and one volume per block-storage zone) created, ACTIVE
  (available), deleted.

Reads CONFORMANCE_DIR, KEYSTONE_URL, REGION, ADMIN_PASSWORD, DEMO_PASSWORD, SERVICE_PASSWORD.
"""

import os
import sys
import time

import openstack
from openstack import exceptions

DIR = os.environ["CONFORMANCE_DIR"]
KEYSTONE_URL = os.environ["KEYSTONE_URL"]
REGION = os.environ["REGION"]
HOST = "127.0.0.1"

# The simulator's default world (e2e/src/openstack/config.rs, SimConfig::default).
ZONES = [("zone-a", True), ("zone-b", True), ("zone-c", False)]
# id, name, vcpus, ram MiB, disk GiB, ephemeral GiB
FLAVORS = [
    ("2", "m1.small", 1, 2048, 20, 0),
    ("3", "m1.medium", 2, 4096, 40, 0),
    ("5", "m1.xlarge", 8, 16384, 160, 100),
]
IMAGES = [
    ("5b1e4a8a-6f0e-4f43-9d3c-2c1a0b8e7d21", "ubuntu-22.04"),
    ("a3c9d7e2-1b4f-4e8a-8c6d-9f0e1d2c3b45", "debian-12"),
]
NETWORK = "private"
SUBNET = "private-subnet"
CIDR = "127.102.0.0/16"
# The simulator's pool: from the subnet's tenth address to the last before broadcast.
POOL = ("127.102.0.10", "127.102.255.254")
PROJECT = "demo"
SERVICE_USERS = ["placement", "nova", "glance", "cinder", "neutron", "heat"]

# type, name, URL
ENDPOINTS = [
    ("compute", "nova", f"http://{HOST}:8774/v2.1"),
    ("placement", "placement", f"http://{HOST}:8778"),
    ("image", "glance", f"http://{HOST}:9292"),
    ("volumev3", "cinderv3", f"http://{HOST}:8776/v3/%(project_id)s"),
    ("block-storage", "cinder", f"http://{HOST}:8776/v3/%(project_id)s"),
    ("network", "neutron", f"http://{HOST}:9696"),
    ("orchestration", "heat", f"http://{HOST}:8004/v1/%(project_id)s"),
]


def say(msg):
    print(f"[bootstrap {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def connect(user, password, project):
    return openstack.connect(
        auth_url=f"{KEYSTONE_URL}/v3",
        username=user,
        password=password,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
        region_name=REGION,
        interface="public",
        identity_api_version="3",
    )


def admin():
    return connect("admin", os.environ["ADMIN_PASSWORD"], "admin")


def demo():
    return connect("demo", os.environ["DEMO_PASSWORD"], PROJECT)


def wait_for(what, check, timeout=300, interval=1.0, service=None):
    """Polls check() until it returns a truthy value; fails naming the service to look at."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except exceptions.SDKException as e:  # a service still starting
            last = e
        time.sleep(interval)
    hint = f" (see log/{service}.log)" if service else ""
    raise SystemExit(f"timed out after {timeout}s waiting for {what}{hint}; last error: {last}")


def ensure_role(c, name):
    return c.identity.find_role(name) or c.identity.create_role(name=name)


def ensure_project(c, name, domain_id="default"):
    return c.identity.find_project(name, domain_id=domain_id) or c.identity.create_project(
        name=name, domain_id=domain_id, description=f"conformance {name}"
    )


def ensure_user(c, name, password, project=None, domain_id="default"):
    user = c.identity.find_user(name, domain_id=domain_id)
    if user:
        return c.identity.update_user(user, password=password)
    kwargs = {"name": name, "password": password, "domain_id": domain_id}
    if project is not None:
        kwargs["default_project_id"] = project.id
    return c.identity.create_user(**kwargs)


def phase_identity():
    c = admin()
    wait_for("keystone", lambda: c.identity.find_project("admin"), service="keystone")
    service_project = ensure_project(c, "service")
    demo_project = ensure_project(c, PROJECT)
    roles = {n: ensure_role(c, n) for n in
             ["admin", "member", "reader", "service", "heat_stack_owner", "heat_stack_user"]}

    for name in SERVICE_USERS:
        user = ensure_user(c, name, os.environ["SERVICE_PASSWORD"], service_project)
        for role in ("admin", "service"):
            c.identity.assign_project_role_to_user(service_project, user, roles[role])
    demo_user = ensure_user(c, "demo", os.environ["DEMO_PASSWORD"], demo_project)
    for role in ("member", "heat_stack_owner"):
        c.identity.assign_project_role_to_user(demo_project, demo_user, roles[role])
    admin_user = c.identity.find_user("admin", domain_id="default")
    c.identity.assign_project_role_to_user(demo_project, admin_user, roles["admin"])

    # Heat's stack domain: its engine needs it at start, or every stack fails to authorize.
    domain = c.identity.find_domain("heat") or c.identity.create_domain(
        name="heat", description="Heat stack projects and users"
    )
    heat_admin = ensure_user(c, "heat_domain_admin", os.environ["SERVICE_PASSWORD"],
                             domain_id=domain.id)
    c.identity.assign_domain_role_to_user(domain, heat_admin, roles["admin"])

    for kind, name, url in ENDPOINTS:
        service = c.identity.find_service(name) or c.identity.create_service(
            name=name, type=kind, description=f"conformance {kind}"
        )
        existing = {e.interface for e in c.identity.endpoints(service_id=service.id)}
        for interface in ("public", "internal"):
            if interface not in existing:
                c.identity.create_endpoint(service_id=service.id, interface=interface,
                                           url=url, region_id=REGION)
    # Last, as it revokes this session's token: re-set the admin password, hashed again with the
    # configured (cheap) bcrypt rounds. Keystone compares revocations at one-second granularity,
    # so a token issued in the same second (a re-authentication, the next phase's) would be
    # refused with 401 too: wait past that second.
    c.identity.update_user(admin_user, password=os.environ["ADMIN_PASSWORD"])
    time.sleep(1.1)
    say("identity: projects service/demo, users, roles, heat domain, 7 services")


def phase_world():
    c = admin()
    computes = {f"compute-{z}" for z, _ in ZONES}

    def computes_up():
        up = {s.host for s in c.compute.services(binary="nova-compute")
              if s.state == "up" and s.status == "enabled"}
        return computes <= up

    wait_for("the nova-compute services", computes_up, service="nova-compute-zone-a")

    def hypervisors_mapped():
        return computes <= {h.name for h in c.compute.hypervisors()}

    wait_for("the compute hosts in placement", hypervisors_mapped, service="nova-compute-zone-a")

    volume_hosts = {f"conformance@{z}" for z, storage in ZONES if storage}

    def volumes_up():
        up = {s.host for s in c.block_storage.services(binary="cinder-volume")
              if s.state == "up"}
        return volume_hosts <= up

    wait_for("the cinder-volume backends", volumes_up, service="cinder-volume")
    say("services: 3 computes, 2 volume backends up")

    for zone, _ in ZONES:
        agg = c.compute.find_aggregate(zone)
        if agg is None:
            agg = c.compute.create_aggregate(name=zone, availability_zone=zone)
        if f"compute-{zone}" not in (agg.hosts or []):
            c.compute.add_host_to_aggregate(agg, f"compute-{zone}")

    for fid, name, vcpus, ram, disk, ephemeral in FLAVORS:
        if c.compute.find_flavor(name) is None:
            c.compute.create_flavor(id=fid, name=name, vcpus=vcpus, ram=ram, disk=disk,
                                    ephemeral=ephemeral, is_public=True)

    images_dir = os.path.join(DIR, "state", "image-files")
    os.makedirs(images_dir, exist_ok=True)
    for iid, name in IMAGES:
        if c.image.find_image(name) is not None:
            continue
        path = os.path.join(images_dir, f"{name}.raw")
        with open(path, "wb") as f:
            f.write(name.encode().ljust(4096, b"\0"))
        image = c.image.create_image(id=iid, name=name, disk_format="raw",
                                     container_format="bare", visibility="public")
        with open(path, "rb") as f:
            image.data = f.read()
        image.upload(c.image)
        wait_for(f"image {name} active",
                 lambda: c.image.get_image(image.id).status == "active", service="glance")

    project = c.identity.find_project(PROJECT, domain_id="default")
    net = c.network.find_network(NETWORK, project_id=project.id)
    if net is None:
        net = c.network.create_network(name=NETWORK, project_id=project.id)
    if c.network.find_subnet(SUBNET, network_id=net.id) is None:
        c.network.create_subnet(
            name=SUBNET, network_id=net.id, project_id=project.id, ip_version=4, cidr=CIDR,
            gateway_ip=None, is_dhcp_enabled=False,
            allocation_pools=[{"start": POOL[0], "end": POOL[1]}],
        )

    types = [t.name for t in c.block_storage.types()]
    if "__DEFAULT__" not in types:
        raise SystemExit(f"cinder has no __DEFAULT__ volume type: {types}")
    say("world: aggregates/zones, flavors, images, network, volume types")


def phase_canary():
    c = demo()
    flavor = c.compute.find_flavor("m1.small", ignore_missing=False)
    image = c.image.find_image("ubuntu-22.04", ignore_missing=False)
    net = c.network.find_network(NETWORK, ignore_missing=False)
    for zone, storage in ZONES:
        server = None
        for attempt in range(1, 4):
            t0 = time.monotonic()
            server = c.compute.create_server(
                name=f"canary-{zone}", flavor_id=flavor.id, image_id=image.id,
                networks=[{"uuid": net.id}], availability_zone=zone)
            server = _wait_server_or_none(c, server)
            if server is not None:
                say(f"canary {zone}: ACTIVE in {time.monotonic() - t0:.1f}s (try {attempt})")
                break
            say(f"canary {zone}: ERROR on try {attempt}")
        if server is None:
            raise SystemExit(f"no canary server went ACTIVE in {zone} "
                             f"(see log/nova-scheduler.log, log/nova-compute-{zone}.log)")
        c.compute.delete_server(server)
        c.compute.wait_for_delete(server, wait=120, interval=1)
        if storage:
            t0 = time.monotonic()
            vol = c.block_storage.create_volume(name=f"canary-{zone}", size=1,
                                                availability_zone=zone)
            c.block_storage.wait_for_status(vol, status="available", failures=["error"],
                                            wait=120, interval=1)
            say(f"canary volume {zone}: available in {time.monotonic() - t0:.1f}s")
            c.block_storage.delete_volume(vol)
            c.block_storage.wait_for_delete(vol, wait=120, interval=1)


def _wait_server_or_none(c, server):
    """Waits for ACTIVE; on ERROR (e.g. NoValidHost right after start) deletes it, returns None."""
    try:
        return c.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=300,
                                         interval=1)
    except exceptions.ResourceFailure:
        fault = getattr(c.compute.get_server(server), "fault", None)
        say(f"server {server.name} failed: {fault}")
        c.compute.delete_server(server)
        c.compute.wait_for_delete(server, wait=120, interval=1)
        time.sleep(5)
        return None


PHASES = {"identity": phase_identity, "world": phase_world, "canary": phase_canary}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PHASES:
        raise SystemExit(f"usage: python -m conformance_cloud.bootstrap {'|'.join(PHASES)}")
    t = time.monotonic()
    PHASES[sys.argv[1]]()
    say(f"{sys.argv[1]} done in {time.monotonic() - t:.1f}s")
