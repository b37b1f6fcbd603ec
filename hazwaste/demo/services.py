"""Build the demo world through the same services users go through.

Accounts (all with :data:`DEMO_PASSWORD`, demo only):

===========================  ==============================================================
admin@demo.test              platform administrator
producer@demo.test           鄂尔多斯市恒源煤化工有限公司 (coal chemicals, 鄂托克旗) — admin
producer2@demo.test          鄂尔多斯市康宁医院 (hospital, 东胜区) — admin
carrier@demo.test            鄂尔多斯市安驰危险货物运输有限公司 — admin
driver@demo.test             its driver 李师傅
driver2@demo.test            its driver 王师傅
receiver@demo.test           鄂尔多斯市绿源环保科技有限公司 — licence excludes HW01 and HW29
receiver2@demo.test          内蒙古蒙西危险废物处置中心 — licence expiring in 25 days
regulator@demo.test          鄂尔多斯市生态环境局 (150600)
regulator-otog@demo.test     鄂尔多斯市生态环境局鄂托克旗分局 (150624)
inspector@demo.test          李娜, inspector of the city body (with ``history``)
===========================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from hazwaste.accounts import services as accounts
from hazwaste.accounts.models import Organization, RegulatorBody, User, UserRole
from hazwaste.catalog import services as catalog
from hazwaste.permits import services as permits

DEMO_PASSWORD = "demo-pass-2026"
PASSWORD_MIN = 10


class DemoRefused(Exception):
    """The database already holds organizations and ``force`` was not given."""


def demo_uscc(region_code: str, org_code: str) -> str:
    """A checksum-valid USCC for a (fictional) enterprise: ``91`` + region + org code."""
    body = f"91{region_code}{org_code}"
    return body + stdnum_uscc.calc_check_digit(body)


@dataclass
class DemoWorld:
    users: dict[str, User] = field(default_factory=dict)
    orgs: dict[str, Organization] = field(default_factory=dict)
    bodies: dict[str, RegulatorBody] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


ORGS: list[dict[str, Any]] = [
    {
        "key": "producer",
        "email": "producer@demo.test",
        "name": "张伟",
        "org_name": "鄂尔多斯市恒源煤化工有限公司",
        "org_code": "MA0N8C3K7",
        "region_code": "150624",
        "address": "内蒙古自治区鄂尔多斯市鄂托克旗棋盘井工业园区纬三路8号",
        "latitude": 39.3480,
        "longitude": 106.9590,
        "roles": ("producer",),
    },
    {
        "key": "producer2",
        "email": "producer2@demo.test",
        "name": "刘芳",
        "org_name": "鄂尔多斯市康宁医院",
        "org_code": "46013652X",
        "region_code": "150602",
        "address": "内蒙古自治区鄂尔多斯市东胜区伊煤南路21号",
        "latitude": 39.8120,
        "longitude": 109.9870,
        "roles": ("producer",),
    },
    {
        "key": "carrier",
        "email": "carrier@demo.test",
        "name": "赵强",
        "org_name": "鄂尔多斯市安驰危险货物运输有限公司",
        "org_code": "MA0Q4TR51",
        "region_code": "150602",
        "address": "内蒙古自治区鄂尔多斯市东胜区罕台镇物流园区A3",
        "latitude": 39.8680,
        "longitude": 109.8920,
        "roles": ("carrier",),
    },
    {
        "key": "receiver",
        "email": "receiver@demo.test",
        "name": "陈静",
        "org_name": "鄂尔多斯市绿源环保科技有限公司",
        "org_code": "MA0PWX2D4",
        "region_code": "150621",
        "address": "内蒙古自治区鄂尔多斯市达拉特旗树林召镇循环经济园区",
        "latitude": 40.3900,
        "longitude": 110.0400,
        "roles": ("receiver",),
    },
    {
        "key": "receiver2",
        "email": "receiver2@demo.test",
        "name": "孙磊",
        "org_name": "内蒙古蒙西危险废物处置中心有限公司",
        "org_code": "MA13K8N63",
        "region_code": "150624",
        "address": "内蒙古自治区鄂尔多斯市鄂托克旗蒙西镇高新技术工业园区",
        "latitude": 39.4610,
        "longitude": 107.0620,
        "roles": ("receiver",),
    },
]


def seed_demo(
    session: Session, now: datetime, force: bool = False, history: bool = False
) -> DemoWorld:
    """Create the demo world. Refuses (``DemoRefused``) if organizations exist, unless ``force``.

    With ``history`` it also plays a few weeks of manifests through the lifecycle (see
    :func:`seed_history`), so a newcomer sees lists, timelines and overdue items at once.

    Reference data must be loaded first (``flask load-reference``); this function loads it if
    the catalogue is empty. Nothing is committed here.
    """
    if session.scalar(select(func.count()).select_from(Organization)) and not force:
        raise DemoRefused("the database already has organizations")
    if not catalog.reference_data_loaded(session):
        catalog.load_reference_data(session)
    world = DemoWorld()
    today = now.date()

    admin = session.scalar(select(User).where(User.email == "admin@demo.test"))
    if admin is None:
        admin = User(
            email="admin@demo.test",
            name="平台管理员",
            password_hash=accounts.hash_password(DEMO_PASSWORD),
            role=UserRole.ADMIN,
            is_platform_admin=True,
            created_at=now,
            password_changed_at=now,
        )
        session.add(admin)
        session.flush()
    world.users["admin"] = admin

    for spec in ORGS:
        if session.scalar(select(User.id).where(User.email == spec["email"])):
            raise DemoRefused(f"{spec['email']} already exists; use a fresh database")
        data = {
            "uscc": demo_uscc(spec["region_code"], spec["org_code"]),
            "org_name": spec["org_name"],
            "address": spec["address"],
            "region_code": spec["region_code"],
            "latitude": spec["latitude"],
            "longitude": spec["longitude"],
            "contact_phone": "0477-8000000",
            "name": spec["name"],
            "email": spec["email"],
            "phone": "",
            "password": DEMO_PASSWORD,
            **{f"is_{r}": r in spec["roles"] for r in ("producer", "carrier", "receiver")},
        }
        org, user = accounts.register_organization(session, now, data, PASSWORD_MIN)
        accounts.review_organization(
            session, now, admin, org.id, approve=True, note="演示数据 / demo data"
        )
        world.orgs[spec["key"]] = org
        world.users[spec["key"]] = user

    carrier_admin = world.users["carrier"]
    for email, name in (("driver@demo.test", "李建国"), ("driver2@demo.test", "王海军")):
        key = email.split("@")[0]
        world.users[key] = accounts.create_org_user(
            session,
            now,
            carrier_admin,
            {
                "email": email,
                "name": name,
                "phone": "",
                "password": DEMO_PASSWORD,
                "role": "driver",
            },
            PASSWORD_MIN,
        )
    world.users["producer_staff"] = accounts.create_org_user(
        session,
        now,
        world.users["producer"],
        {
            "email": "producer-staff@demo.test",
            "name": "周敏",
            "phone": "",
            "password": DEMO_PASSWORD,
            "role": "member",
        },
        PASSWORD_MIN,
    )

    # Carrier: permit, two vehicles, two drivers' papers.
    world.extra["carrier_permit"] = permits.create_carrier_permit(
        session,
        now,
        carrier_admin,
        {
            "number": "蒙交运管许可鄂字150602000871号",
            "valid_from": date(2024, 3, 1),
            "valid_to": date(2028, 2, 29),
        },
    )
    world.extra["vehicles"] = [
        permits.create_vehicle(
            session,
            now,
            carrier_admin,
            {
                "plate": "蒙K5B120",
                "vehicle_type": "危险货物厢式货车",
                "max_load_kg": Decimal("18000"),
            },
        ),
        permits.create_vehicle(
            session,
            now,
            carrier_admin,
            {
                "plate": "蒙KD26318",
                "vehicle_type": "危险货物罐式货车",
                "max_load_kg": Decimal("9500"),
            },
        ),
    ]
    world.extra["drivers"] = []
    for key, number in (("driver", "150602198503120817"), ("driver2", "150621199007234412")):
        world.extra["drivers"].append(
            permits.register_driver(
                session,
                now,
                carrier_admin,
                {
                    "user_id": world.users[key].id,
                    "licence_number": number,
                    "qualification_number": f"1506{number[-8:]}",
                    "qualification_valid_to": date(today.year + 3, 6, 30),
                },
            )
        )

    # Receiver 1: broad licence that excludes medical waste (HW01) and HW29 (mercury).
    world.extra["licence"] = permits.create_licence(
        session,
        now,
        world.users["receiver"],
        {
            "number": "蒙危废经第150621001号",
            "valid_from": date(2023, 1, 1),
            "valid_to": date(2027, 12, 31),
            "annual_capacity_kg": Decimal("30000000"),
            "scope_categories": ["HW06", "HW08", "HW09", "HW11", "HW12", "HW13", "HW49", "HW50"],
            "scope_codes": [],
            "methods": ["R2", "R3", "R9", "D10", "C3"],
            "note": "",
        },
    )
    # Receiver 2: incineration centre, licence about to expire.
    world.extra["licence2"] = permits.create_licence(
        session,
        now,
        world.users["receiver2"],
        {
            "number": "蒙危废经第150624003号",
            "valid_from": date(2021, 12, 18),
            "valid_to": today + timedelta(days=25),
            "annual_capacity_kg": Decimal("12000000"),
            "scope_categories": ["HW01", "HW02", "HW03", "HW04", "HW08", "HW49"],
            "scope_codes": ["261-084-45"],
            "methods": ["D10", "Y10", "D1"],
            "note": "",
        },
    )

    for key, name, region, email, user_name in (
        ("city", "鄂尔多斯市生态环境局", "150600", "regulator@demo.test", "高明"),
        (
            "otog",
            "鄂尔多斯市生态环境局鄂托克旗分局",
            "150624",
            "regulator-otog@demo.test",
            "巴特尔",
        ),
    ):
        body = session.scalar(select(RegulatorBody).where(RegulatorBody.name == name))
        if body is None:
            body = accounts.create_regulator_body(
                session, now, admin, {"name": name, "region_code": region}
            )
        world.bodies[key] = body
        world.users[f"regulator_{key}"] = accounts.create_regulator_user(
            session,
            now,
            admin,
            body,
            {
                "email": email,
                "name": user_name,
                "phone": "",
                "password": DEMO_PASSWORD,
                "role": "admin",
            },
            PASSWORD_MIN,
        )

    # One registration still waiting for the platform admin, so the queue is not empty.
    accounts.register_organization(
        session,
        now,
        {
            "uscc": demo_uscc("150603", "MA7XK2L90"),
            "org_name": "鄂尔多斯市康巴什区新材料科技有限公司",
            "address": "内蒙古自治区鄂尔多斯市康巴什区创业大厦12层",
            "region_code": "150603",
            "latitude": 39.6050,
            "longitude": 109.7810,
            "contact_phone": "",
            "name": "韩雪",
            "email": "pending@demo.test",
            "phone": "",
            "password": DEMO_PASSWORD,
            "is_producer": True,
            "is_carrier": False,
            "is_receiver": False,
        },
        PASSWORD_MIN,
    )
    # Demo addresses (@demo.test) reach nobody real: count them as verified, so the demo's
    # notifications show their e-mail (printed by the console transport of `make run`).
    session.execute(
        update(User)
        .where(User.email.like("%@demo.test"), User.email_verified_at.is_(None))
        .values(email_verified_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if history:
        seed_history(session, now, world)
        seed_plans(session, now, world)
        from hazwaste.reconciliation import services as reconciliation

        reconciliation.run(session, now)
        seed_cases(session, now, world)
    return world


def seed_cases(session: Session, now: datetime, world: DemoWorld) -> None:
    """A second inspector in the city body, one case already under investigation (assigned
    to that inspector) and an enterprise explanation, so the case queue shows every column.
    The WEIGHT_GAP flag is left new (the browser story starts its investigation)."""
    from hazwaste.cases import lifecycle
    from hazwaste.cases import services as cases
    from hazwaste.reconciliation.models import Flag

    inspector = accounts.create_regulator_user(
        session,
        now,
        world.users["admin"],
        world.bodies["city"],
        {
            "email": "inspector@demo.test",
            "name": "李娜",
            "phone": "",
            "password": DEMO_PASSWORD,
            "role": "inspector",
        },
        PASSWORD_MIN,
    )
    world.users["inspector"] = inspector
    chief = world.users["regulator_city"]
    flags = {f.rule: f for f in session.scalars(select(Flag).order_by(Flag.id))}
    location = flags.get("LOCATION_MISMATCH")
    if location is not None:
        lifecycle.start(session, now, chief, location, "取货位置距产废单位 6 km，调取车辆轨迹。")
        lifecycle.assign(session, now, chief, location, inspector.id)
    overdue = flags.get("RECEIPT_OVERDUE")
    if overdue is not None and overdue.receiver_id is not None:
        receiver = session.scalar(
            select(User).where(User.organization_id == overdue.receiver_id).order_by(User.id)
        )
        if receiver is not None:
            cases.respond(
                session,
                now,
                receiver,
                overdue,
                {
                    "body": "地磅检修两天，已于次日补录接收信息。",
                    "attachments": "地磅检修记录 2026-11-10\n补录接收单照片",
                },
            )


def _line(
    code: str, name: str, form: str, hazards: list[str], packaging: str, count: int, kg: str
) -> dict[str, Any]:
    return {
        "waste_code": code,
        "waste_name": name,
        "physical_form": form,
        "hazards": hazards,
        "packaging": packaging,
        "container_count": count,
        "declared_kg": Decimal(kg),
        "declared_unit": "kg",
    }


COAL_LINES = [
    _line("900-249-08", "废矿物油（设备检修）", "liquid", ["T", "I"], "200L铁桶", 9, "1620"),
    _line("252-002-11", "煤气净化焦油渣", "semi_solid", ["T"], "吨桶", 4, "3850"),
    _line("900-041-49", "沾染危险废物的废包装桶", "solid", ["T", "In"], "吨袋", 2, "460"),
]
HOSPITAL_LINES = [
    _line("841-001-01", "感染性废物", "solid", ["In"], "医疗废物专用周转箱", 24, "386.5"),
    _line("841-002-01", "损伤性废物", "solid", ["In"], "利器盒", 6, "42.3"),
]
EMERGENCY = (
    "运输途中发生泄漏：立即停车、设置警示标志，用吸附棉和防渗布围堵，"
    "禁止明火；拨打119和鄂尔多斯市生态环境局应急电话0477-8581234，通知移出人。"
)


#: This year's management plans of the demo producers: (producer key, waste code, planned
#: generation t, planned transfer t, receiver key). The tar residue's plan is deliberately
#: smaller than what the history ships, so OVER_PLAN has something to show.
DEMO_PLANS = [
    ("producer", "900-249-08", "24", "24", "receiver"),
    ("producer", "252-002-11", "6", "6", "receiver"),
    ("producer", "900-041-49", "3", "3", "receiver"),
    ("producer2", "841-001-01", "6", "6", "receiver2"),
    ("producer2", "841-002-01", "0.6", "0.6", "receiver2"),
]


def seed_plans(session: Session, now: datetime, world: DemoWorld) -> None:
    """This year's management plans (管理计划) for the two demo producers, through the same
    service as the plans form."""
    from hazwaste.manifests.services import local_date
    from hazwaste.plans import services as plans

    year = local_date(now).year
    for producer_key, code, generation, transfer, receiver_key in DEMO_PLANS:
        plans.save_plan(
            session,
            now,
            world.users[producer_key],
            {
                "year": year,
                "waste_code": code,
                "planned_generation_kg": Decimal(generation) * 1000,
                "planned_transfer_kg": Decimal(transfer) * 1000,
                "intended_receiver_id": world.orgs[receiver_key].id,
                "note": "",
            },
        )


def seed_history(session: Session, now: datetime, world: DemoWorld) -> list[Any]:
    """Manifests in every status, with real hand-offs in the past:

    completed (twice, one with a weight gap), received awaiting disposal, delivered with the
    receipt overdue, in transit for three days, submitted for tomorrow, rejected, cancelled,
    and a draft. Uses the lifecycle verbs with past times, so events and the audit chain are
    exactly what users would have produced.
    """
    from hazwaste.manifests import lifecycle
    from hazwaste.manifests import services as manifests

    producer, hospital = world.users["producer"], world.users["producer2"]
    driver, receiver, receiver2 = (
        world.users["driver"],
        world.users["receiver"],
        world.users["receiver2"],
    )
    truck, tanker = world.extra["vehicles"]
    drivers = world.extra["drivers"]
    made = []

    def draft(
        user: User,
        receiver_org: Organization,
        lines: list[dict[str, Any]],
        day: datetime,
        vehicle: Any = truck,
        driver_index: int = 0,
        created: datetime | None = None,
    ) -> Any:
        data = {
            "carrier_id": world.orgs["carrier"].id,
            "receiver_id": receiver_org.id,
            "vehicle_id": vehicle.id,
            "driver_id": drivers[driver_index].id,
            "planned_date": manifests.local_date(day),
            "emergency_measures": EMERGENCY,
            "lines": [dict(line) for line in lines],
        }
        # Manifests planned for a later day are written before ``now``, never in the future.
        when = created or min(day - timedelta(hours=20), now - timedelta(hours=21))
        manifest = manifests.create_draft(session, when, user, data)
        made.append(manifest)
        return manifest

    def run(
        manifest: Any,
        user: User,
        day: datetime,
        until: str,
        factor: str = "1",
        received_factor: str = "1",
        position: tuple[float, float] | None = None,
    ) -> None:
        lifecycle.submit(session, day - timedelta(hours=19), manifest, user)
        if until == "submitted":
            return
        lat, lon = position or (manifest.producer.latitude, manifest.producer.longitude)
        lifecycle.pickup(
            session,
            day,
            manifest,
            driver,
            {
                "vehicle_id": manifest.vehicle_id,
                "note": "",
                "latitude": lat,
                "longitude": lon,
                "accuracy_m": 15.0,
                "position_note": "",
                "lines": [
                    {
                        "line_id": ln.id,
                        "loaded_kg": (ln.declared_kg * Decimal(factor)).quantize(Decimal("1")),
                    }
                    for ln in manifest.lines
                ],
            },
        )
        if until == "in_transit":
            return
        arrival = day + timedelta(hours=4)
        lifecycle.deliver(
            session,
            arrival,
            manifest,
            driver,
            {
                "latitude": manifest.receiver.latitude,
                "longitude": manifest.receiver.longitude,
                "accuracy_m": 20.0,
                "position_note": "",
                "note": "",
            },
        )
        if until == "delivered":
            return
        decisions = "reject" if until == "rejected" else "accept"
        lifecycle.receive(
            session,
            arrival + timedelta(hours=2),
            manifest,
            receiver if manifest.receiver_id == world.orgs["receiver"].id else receiver2,
            {
                # A weighbridge difference beyond the tolerance is explained (required).
                "note": ""
                if Decimal(received_factor) == 1
                else "过磅差异较大，已拍照留存，待与产生单位核对",
                "latitude": None,
                "longitude": None,
                "accuracy_m": None,
                "position_note": "not_requested",
                "lines": [
                    {
                        "line_id": ln.id,
                        "decision": decisions,
                        "received_kg": (ln.loaded_kg * Decimal(received_factor)).quantize(
                            Decimal("1")
                        ),
                        "rejected_kg": None,
                        "rejection_reason": ""
                        if decisions == "accept"
                        else "包装破损渗漏，拒绝接收",
                    }
                    for ln in manifest.lines
                ],
            },
        )
        if until in ("received", "rejected"):
            return
        clerk = receiver if manifest.receiver_id == world.orgs["receiver"].id else receiver2
        methods = {"08": "R2", "11": "R9", "49": "C3", "01": "D10"}
        lifecycle.dispose(
            session,
            arrival + timedelta(days=3),
            manifest,
            clerk,
            {
                "note": "",
                "lines": [
                    {
                        "line_id": ln.id,
                        "method": methods[ln.waste_code[-2:]],
                        "disposed_kg": ln.accepted_kg,
                        "disposal_date": manifests.local_date(arrival + timedelta(days=3)),
                    }
                    for ln in manifest.lines
                    if ln.accepted_kg
                ],
            },
        )

    receiver_org, incinerator = world.orgs["receiver"], world.orgs["receiver2"]
    day = now - timedelta(days=24)
    run(
        draft(producer, receiver_org, COAL_LINES, day),
        producer,
        day,
        "completed",
        received_factor="0.995",
    )
    day = now - timedelta(days=17)
    run(
        draft(hospital, incinerator, HOSPITAL_LINES, day, vehicle=tanker, driver_index=1),
        hospital,
        day,
        "completed",
    )
    day = now - timedelta(days=13)
    # Liquid waste oil arrives 7.6 % light: a weight gap beyond the 5 % tolerance.
    run(
        draft(producer, receiver_org, COAL_LINES[:1], day),
        producer,
        day,
        "completed",
        received_factor="0.924",
    )
    day = now - timedelta(days=9)
    run(draft(producer, receiver_org, COAL_LINES[1:], day), producer, day, "received")
    day = now - timedelta(days=14)
    run(draft(producer, receiver_org, COAL_LINES[:2], day), producer, day, "delivered")
    day = now - timedelta(days=3)
    # Picked up three days ago 6 km from the plant, never arrived.
    run(
        draft(producer, receiver_org, COAL_LINES[2:], day),
        producer,
        day,
        "in_transit",
        position=(39.40, 106.99),
    )
    day = now - timedelta(days=6)
    run(
        draft(hospital, incinerator, HOSPITAL_LINES[:1], day, vehicle=tanker, driver_index=1),
        hospital,
        day,
        "rejected",
    )
    tomorrow = now + timedelta(days=1)
    run(
        draft(producer, receiver_org, COAL_LINES, tomorrow, created=now - timedelta(hours=22)),
        producer,
        now,
        "submitted",
    )
    cancelled = draft(
        producer, receiver_org, COAL_LINES[:1], tomorrow, created=now - timedelta(hours=5)
    )
    lifecycle.submit(session, now - timedelta(hours=3), cancelled, producer)
    lifecycle.cancel(
        session, now - timedelta(hours=2), cancelled, producer, "计划停产检修，转移推迟"
    )
    draft(
        producer,
        receiver_org,
        COAL_LINES[1:2],
        now + timedelta(days=5),
        created=now - timedelta(hours=1),
    )
    return made
