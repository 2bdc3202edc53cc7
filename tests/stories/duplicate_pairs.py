# ruff: noqa: E501  (data: each Chinese sentence stays on its line, ruff counts CJK as 2 columns)
"""Labelled pairs for duplicate suggestions: a draft whistle and an existing case, and whether
the draft should be shown the case ("this is the same problem").

Written from the domain (illegal parking, noise and square dancing, vendors, sanitation,
greening, property disputes, water, fire lanes, tourist crowds on the promenade) in the demo's
areas (whistle/data/areas.toml). Each problem is an original case with the ways a second
secretary or the same one an hour later would write it again, a report of it a few doors away,
a different problem at the same place, and the same kind of problem elsewhere in the
community. From these the pairs are made, one kind each (``KINDS``):

- ``rewording`` — the same problem at the same place written again (duplicate);
- ``nearby`` — the same problem reported from a nearby spot of the same place (duplicate);
- ``same_place_other_problem`` — another problem at the same address (not a duplicate);
- ``same_kind_elsewhere`` — the same kind of problem at another place of the community (not);
- ``other_problem`` — an unrelated case of the same community (not);
- ``other_community`` — the same text raised in another community (not: not a candidate);
- ``older`` — the same problem raised more than 14 days before (not: not a candidate);
- ``closed`` — the same problem, but the case is closed or withdrawn (not: not a candidate).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

Kind = Literal[
    "rewording",
    "nearby",
    "same_place_other_problem",
    "same_kind_elsewhere",
    "other_problem",
    "other_community",
    "older",
    "closed",
]
KINDS: tuple[Kind, ...] = (
    "rewording",
    "nearby",
    "same_place_other_problem",
    "same_kind_elsewhere",
    "other_problem",
    "other_community",
    "older",
    "closed",
)
DUPLICATE_KINDS = frozenset({"rewording", "nearby"})
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
"""When the drafts are written."""

JINHAI = "tongan.datong.jinhai"
FENGXIANG = "tongan.datong.fengxiang"
YUNXI = "tongan.datong.yunxi"
XICHI = "tongan.datong.xichi"
FENGSHAN = "tongan.xiangping.fengshan"
LUFENG = "tongan.xiangping.lufeng"
SHUANGHU = "xiangan.dadeng.shuanghu"
ZENGLIN = "xiangan.maxiang.zenglin"
FANGXING = "xiangan.maxiang.fangxing"
WUMEI = "xiangan.maxiang.wumei"
GUYAN = "xiangan.xindian.guyan"
XINYANG = "haicang.xinyang.xinyang"
NEIGHBOUR = {
    JINHAI: FENGXIANG,
    FENGXIANG: JINHAI,
    YUNXI: XICHI,
    XICHI: YUNXI,
    FENGSHAN: LUFENG,
    LUFENG: FENGSHAN,
    SHUANGHU: ZENGLIN,
    ZENGLIN: FANGXING,
    FANGXING: WUMEI,
    WUMEI: ZENGLIN,
    GUYAN: WUMEI,
    XINYANG: JINHAI,
}


@dataclass(frozen=True, slots=True)
class Whistle:
    """What a secretary writes (a draft) or what a case holds."""

    community: str
    category: str
    title: str
    description: str
    address: str
    location: tuple[float, float] | None = None
    raised_at: datetime = NOW - timedelta(days=2)
    status: str = "routed"

    def row(self, case_id: str) -> dict[str, object]:
        """As a ``cases`` read-model row."""
        lat, lon = self.location or (None, None)
        return {
            "case_id": case_id,
            "community": self.community,
            "area": self.community,
            "category": self.category,
            "title": self.title,
            "description": self.description,
            "address": self.address,
            "location_lat": lat,
            "location_lon": lon,
            "raised_at": self.raised_at,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class Pair:
    """A draft, a case, and whether the draft should be shown the case."""

    kind: Kind
    draft: Whistle
    case: Whistle

    @property
    def duplicate(self) -> bool:
        """The label."""
        return self.kind in DUPLICATE_KINDS


# (title, description, address or "" for the original's, location or None)
Version = tuple[str, str, str, tuple[float, float] | None]


@dataclass(frozen=True, slots=True)
class Problem:
    """An original case and the whistles around it."""

    community: str
    category: str
    original: Version
    rewordings: tuple[Version, ...]
    nearby: Version
    other_here: tuple[str, str, str]
    """(category, title, description) of another problem at the original's address."""
    elsewhere: Version


def _at(lat: float, lon: float) -> tuple[float, float]:
    return (lat, lon)


PROBLEMS: tuple[Problem, ...] = (
    Problem(
        JINHAI, "parking",
        ("滨海步道违停", "滨海步道入口两侧每天晚上停满私家车，行人只能走机动车道，很危险。",
         "同安区大同街道金海社区滨海步道入口", _at(24.7301, 118.1602)),
        (
            ("步道口乱停车", "滨海步道入口的车越停越多，推婴儿车都过不去，请交通来管管。", "", None),
            ("滨海步道入口车辆乱停放", "入口处小车占满人行道，游客和居民都要绕到马路上走。",
             "金海社区滨海步道入口停车场旁", _at(24.7303, 118.1604)),
        ),
        ("滨海步道北段违规停车", "步道北段路边一排车违规停放，挡住了步道出口。",
         "滨海步道北段观景台旁", _at(24.7312, 118.1610)),
        ("sanitation", "步道入口垃圾桶满溢", "滨海步道入口的垃圾桶两天没人清运，臭味很大。"),
        ("金海路菜市场门口违停", "菜市场门口早上送货车乱停，公交车进不了站。",
         "金海路菜市场正门", _at(24.7245, 118.1531)),
    ),
    Problem(
        JINHAI, "square_dancing",
        ("金海广场广场舞噪音扰民", "每晚七点到十点金海广场跳广场舞，音响开得很大，旁边楼里老人和学生休息不了。",
         "金海社区金海广场", _at(24.7268, 118.1570)),
        (
            ("广场舞音响太吵", "金海广场晚上跳舞的音响声音太大，居民多次劝说无效。", "", None),
            ("金海广场夜间噪声", "广场舞队的高音喇叭一直放到十点多，3号楼住户投诉。",
             "金海广场东侧", _at(24.7269, 118.1573)),
        ),
        ("金海广场西侧舞蹈队噪音", "广场西侧也有一支舞蹈队，音响对着住宅楼，晚上吵得睡不着。",
         "金海广场西侧篮球场", _at(24.7266, 118.1562)),
        ("street_vendors", "金海广场夜市摊贩占道", "广场边上晚上摆了二十多个地摊，把消防通道都占了。"),
        ("海堤公园舞蹈队扰民", "海堤公园早上六点就开始放音乐跳舞，附近住户被吵醒。",
         "海堤公园南门", _at(24.7330, 118.1655)),
    ),
    Problem(
        JINHAI, "street_vendors",
        ("金海小学门口流动摊贩", "放学时间金海小学门口聚集十几个流动摊贩，卖油炸食品，堵住接孩子的家长。",
         "金海社区金海小学校门口", _at(24.7252, 118.1588)),
        (
            ("小学校门口摆摊", "学校门口每天下午都有人摆摊卖零食，食品卫生没人管，家长很担心。", "", None),
            ("金海小学放学时段占道经营", "校门口小贩占道经营，学生过马路很危险，请城管处理。",
             "金海小学南门", _at(24.7251, 118.1589)),
        ),
        ("金海小学侧门有小贩卖烧烤", "学校侧门的小路上有人推车卖烧烤，油烟很大，也堵路。",
         "金海小学侧门小路", _at(24.7257, 118.1594)),
        ("parking", "小学门口接送车辆违停", "放学时家长的车在校门口乱停，公交车过不去。"),
        ("金海菜市场外摊贩占道", "菜市场外面马路上摆满了菜摊，车辆无法通行。",
         "金海路菜市场外侧", _at(24.7246, 118.1533)),
    ),
    Problem(
        JINHAI, "greening",
        ("海堤路行道树倾斜", "海堤路12号门前一棵榕树被台风吹歪，随时可能倒下砸到行人和车辆。",
         "海堤路12号门前", _at(24.7288, 118.1625)),
        (
            ("榕树歪了有倒塌危险", "海堤路12号前面的大树向马路倾斜，根部土都裂开了。", "", None),
            ("海堤路大树快倒了", "台风后海堤路门口的行道树斜着，树干压在电线上，请园林尽快来。",
             "海堤路12号", None),
        ),
        ("海堤路14号旁树木倾倒隐患", "海堤路14号旁边的榕树台风后歪向人行道，树根翘起。",
         "海堤路14号旁", _at(24.7289, 118.1627)),
        ("sanitation", "海堤路12号门前垃圾堆放", "门前有人堆放装修垃圾，一周没人清理。"),
        ("金海小区绿地被毁", "金海小区中心绿地被人开垦种菜，草坪全被挖掉了。",
         "金海小区中心绿地", _at(24.7239, 118.1552)),
    ),
    Problem(
        JINHAI, "property_management",
        ("金海花园电梯频繁故障", "金海花园5号楼电梯一个月坏了四次，物业说没钱修，老人被困过一次。",
         "金海花园5号楼", _at(24.7262, 118.1545)),
        (
            ("5号楼电梯又坏了", "金海花园5号楼电梯经常停运，物业公司拖着不修，居民意见很大。", "", None),
            ("金海花园电梯困人", "5号楼电梯今天又困人，物管推说维保合同到期。", "金海花园5栋", None),
        ),
        ("金海花园6号楼电梯停运", "6号楼电梯也停了一周，物业不给修理时间。",
         "金海花园6号楼", _at(24.7263, 118.1547)),
        ("noise", "金海花园5号楼装修噪音", "5号楼有住户周末早上七点就开始电钻装修。"),
        ("海景苑物业乱收费", "海景苑物业公司今年停车费涨了一倍，没有开业主大会。",
         "海景苑小区", _at(24.7315, 118.1590)),
    ),
    Problem(
        FENGXIANG, "parking",
        ("凤祥路占道停车", "凤祥路88号到96号路段两边都有车占道停车，早晚高峰堵成一片。",
         "同安区大同街道凤祥社区凤祥路88号", _at(24.7361, 118.1455)),
        (
            ("凤祥路两侧乱停车严重", "凤祥路88号附近路两边停满车，双向只剩一条车道。", "", None),
            ("凤祥路违章停车堵路", "凤祥路90号前面车辆违章停车，公交车每天都被堵。",
             "凤祥路90号", _at(24.7362, 118.1457)),
        ),
        ("凤祥路与祥平路口违停", "路口转角处一直有车停着，转弯看不见对面的车。",
         "凤祥路与祥平路交叉口", _at(24.7370, 118.1462)),
        ("water_supply", "凤祥路88号停水", "凤祥路88号整栋楼从早上开始没水，没有接到停水通知。"),
        ("凤祥新村内部乱停车", "凤祥新村小区里车辆乱停乱放，消防车根本进不来。",
         "凤祥新村小区内", _at(24.7329, 118.1421)),
    ),
    Problem(
        FENGXIANG, "sanitation",
        ("凤祥菜市场后巷垃圾堆积", "菜市场后巷的垃圾三天没清运，污水流到路上，苍蝇很多。",
         "凤祥菜市场后巷", _at(24.7344, 118.1438)),
        (
            ("菜市场后面垃圾没人收", "凤祥菜市场后巷垃圾堆成小山，气味刺鼻，居民都绕路走。", "", None),
            ("凤祥市场后巷卫生差", "后巷垃圾桶满了溢出来，还有烂菜叶和污水。", "凤祥菜市场后门", None),
        ),
        ("凤祥菜市场东侧垃圾点满溢", "市场东侧的垃圾收集点满了，周边堆了很多杂物。",
         "凤祥菜市场东侧垃圾收集点", _at(24.7346, 118.1443)),
        ("street_vendors", "菜市场后巷有人占道卖菜", "后巷里有人摆地摊卖菜，三轮车进不去。"),
        ("凤祥公园公厕脏乱", "凤祥公园的公共厕所没人打扫，洗手池也坏了。",
         "凤祥公园公厕", _at(24.7381, 118.1410)),
    ),
    Problem(
        FENGXIANG, "noise",
        ("凤祥路KTV夜间噪音", "凤祥路120号的KTV每天营业到凌晨两点，楼上住户根本睡不着。",
         "凤祥路120号", _at(24.7368, 118.1471)),
        (
            ("KTV凌晨还很吵", "凤祥路那家KTV半夜唱歌声音太大，低音震得窗户响。", "", None),
            ("凤祥路120号歌厅扰民", "歌厅噪声扰民，已经报警两次没有改善。", "凤祥路120号一楼", None),
        ),
        ("凤祥路118号酒吧噪音", "隔壁118号酒吧晚上放音乐，门口客人喧哗到凌晨。",
         "凤祥路118号", _at(24.7367, 118.1469)),
        ("parking", "KTV门口车辆违停", "凤祥路120号门口晚上客人的车停满非机动车道。"),
        ("凤祥中学旁工地夜间施工", "凤祥中学旁边的工地晚上十一点还在打桩。",
         "凤祥中学东侧工地", _at(24.7310, 118.1480)),
    ),
    Problem(
        YUNXI, "property_management",
        ("芸溪小区物业不作为", "芸溪小区物业半年没有修理地下车库的漏水，车库积水一脚深。",
         "芸溪社区芸溪小区地下车库", _at(24.7425, 118.1502)),
        (
            ("芸溪小区地下车库漏水", "地下车库顶板渗水，物业公司说要业主自己出钱修。", "", None),
            ("车库积水物业不管", "芸溪小区车库下雨就积水，物管一直推脱。", "芸溪小区B区车库", None),
        ),
        ("芸溪小区车库入口积水", "车库入口坡道的排水沟堵了，一下雨就积水，车开不进去。",
         "芸溪小区车库入口坡道", _at(24.7427, 118.1505)),
        ("fire_hazard", "车库里电动车充电", "芸溪小区地下车库有人拉线给电动车充电，很危险。"),
        ("芸溪花园物业费纠纷", "芸溪花园业主和物业因为物业费涨价吵起来了，要求社区调解。",
         "芸溪花园", _at(24.7450, 118.1540)),
    ),
    Problem(
        YUNXI, "fire_hazard",
        ("芸溪大厦消防通道被占", "芸溪大厦后面的消防通道被电动车和杂物堵死，消防车进不去。",
         "芸溪大厦后侧消防通道", _at(24.7410, 118.1520)),
        (
            ("大厦后面消防车道堵了", "芸溪大厦消防车道上停满电动车，还堆了纸箱。", "", None),
            ("芸溪大厦生命通道被占用", "生命通道被杂物占用，物业多次劝说无果。", "芸溪大厦北侧", None),
        ),
        ("芸溪大厦东侧消防通道堆物", "大厦东侧的消防通道也堆满了废旧家具。",
         "芸溪大厦东侧", _at(24.7412, 118.1524)),
        ("greening", "芸溪大厦后侧绿化带枯死", "大厦后面的绿化带苗木全死了，没人补种。"),
        ("芸溪路老旧楼道堆放杂物", "芸溪路32号老楼楼道里堆满杂物和电动车，有火灾隐患。",
         "芸溪路32号", _at(24.7390, 118.1490)),
    ),
    Problem(
        YUNXI, "street_vendors",
        ("芸溪路夜市占道经营", "芸溪路晚上六点以后摊贩把整条人行道占了，行人只能走马路。",
         "芸溪路步行街口", _at(24.7398, 118.1511)),
        (
            ("芸溪路晚上摆摊堵路", "芸溪路一到晚上就摆满地摊，车和人都过不去。", "", None),
            ("芸溪路摊贩占道", "夜市小贩占道经营，油烟和垃圾也很多，请城管来管理。",
             "芸溪路步行街", _at(24.7399, 118.1513)),
        ),
        ("芸溪路公交站旁流动摊点", "公交站旁边有流动摊点卖水果，候车的人没地方站。",
         "芸溪路公交站", _at(24.7403, 118.1517)),
        ("noise", "芸溪路夜市喇叭叫卖噪音", "夜市的喇叭一直循环叫卖，吵得楼上住户受不了。"),
        ("芸溪公园门口卖花小贩", "公园门口有人摆摊卖花卖气球，堵在出入口。",
         "芸溪公园正门", _at(24.7460, 118.1555)),
    ),
    Problem(
        XICHI, "water_supply",
        ("西池村停水三天", "西池村东片三天没来水，老人只能拎桶去邻村打水。",
         "西池社区西池村东片", _at(24.7490, 118.1380)),
        (
            ("西池村东片没水", "东片自来水停了好几天了，也没通知什么时候恢复。", "", None),
            ("西池东片断水", "西池村东片连续断水，水务热线说在抢修但一直没修好。", "西池村东片", None),
        ),
        ("西池村东片水压低", "东片靠近村委会的几户水压很小，楼上根本没有水。",
         "西池村村委会旁", _at(24.7494, 118.1386)),
        ("sanitation", "西池村东片污水外溢", "东片的化粪池满了，污水流到路上。"),
        ("西池新村水管爆裂", "西池新村路口的水管爆了，水流了一地。",
         "西池新村路口", _at(24.7530, 118.1420)),
    ),
    Problem(
        XICHI, "neighbour_dispute",
        ("西池路邻里漏水纠纷", "西池路15号三楼卫生间漏水到二楼，两家吵了一个月，要求社区调解。",
         "西池路15号", _at(24.7475, 118.1395)),
        (
            ("楼上漏水邻居不肯修", "西池路15号二楼住户天花板被楼上漏水泡坏，楼上不肯修。", "", None),
            ("西池路15号楼上渗水纠纷", "三楼渗水到二楼，双方协商不成，需要调解。", "西池路15号二楼", None),
        ),
        ("西池路17号楼上漏水", "隔壁17号也是楼上卫生间漏水，两户闹到派出所。",
         "西池路17号", _at(24.7476, 118.1397)),
        ("parking", "西池路15号门口违停", "门口经常有货车停着，住户进出不方便。"),
        ("西池花园邻居养狗扰民纠纷", "西池花园住户养的狗半夜乱叫，邻居之间吵架。",
         "西池花园3栋", _at(24.7505, 118.1360)),
    ),
    Problem(
        FENGSHAN, "tourist_crowds",
        ("凤山古街节假日游客激增", "周末凤山古街游客太多，街口挤得水泄不通，没有人疏导，容易踩踏。",
         "祥平街道凤山社区凤山古街", _at(24.7605, 118.1250)),
        (
            ("古街人太多没人管", "凤山古街节假日人流量太大，老人小孩被挤，需要安排人员疏导。", "", None),
            ("凤山古街周末客流过大", "古街入口客流拥堵，旁边车辆也乱停，交通一团糟。",
             "凤山古街入口牌坊", _at(24.7606, 118.1252)),
        ),
        ("凤山古街北口人群拥挤", "北口的小广场表演时人群聚集，通道被堵住了。",
         "凤山古街北口小广场", _at(24.7613, 118.1257)),
        ("sanitation", "古街节假日垃圾没人清", "游客多的时候古街垃圾桶满了，到处是奶茶杯。"),
        ("凤山寺庙会人多拥挤", "凤山寺庙会期间香客太多，寺前道路拥堵。",
         "凤山寺前道路", _at(24.7660, 118.1200)),
    ),
    Problem(
        FENGSHAN, "parking",
        ("凤山古街周边违停", "古街周边的小巷被游客的车停满，救护车进不去。",
         "凤山古街东侧小巷", _at(24.7601, 118.1262)),
        (
            ("古街旁小巷停满了车", "凤山古街东边的巷子停满游客车辆，居民的车开不出来。", "", None),
            ("凤山古街东巷乱停车", "东巷两边乱停车，垃圾车也进不来。", "凤山古街东巷", None),
        ),
        ("凤山古街南侧路口违停", "古街南侧路口也停满了车，公交车绕不过去。",
         "凤山古街南侧路口", _at(24.7596, 118.1258)),
        ("street_vendors", "古街东侧小巷流动摊贩", "东侧小巷有人推车卖小吃，把巷子占了一半。"),
        ("凤山小学门口违停", "凤山小学门口接送孩子的车乱停，交通堵塞。",
         "凤山小学门口", _at(24.7570, 118.1300)),
    ),
    Problem(
        LUFENG, "greening",
        ("陆丰公园草坪被踩秃", "陆丰公园中心草坪被踩出好几条路，黄土裸露，下雨一地泥。",
         "陆丰社区陆丰公园中心草坪", _at(24.7550, 118.1150)),
        (
            ("公园草坪被踩坏了", "陆丰公园草坪被人踩得光秃秃的，需要补种和围护。", "", None),
            ("陆丰公园绿地破坏严重", "中心绿地踩踏严重，园林部门很久没来养护。", "陆丰公园中心绿地", None),
        ),
        ("陆丰公园东门花坛损坏", "东门口的花坛被踩坏，苗木倒了一片。",
         "陆丰公园东门", _at(24.7553, 118.1157)),
        ("square_dancing", "陆丰公园草坪上广场舞扰民", "晚上有人在草坪边放音乐跳舞，音响很大。"),
        ("陆丰路行道树缺株", "陆丰路北段行道树死了好几棵，树坑空着。",
         "陆丰路北段", _at(24.7520, 118.1120)),
    ),
    Problem(
        LUFENG, "noise",
        ("陆丰路夜间施工噪音", "陆丰路改造工地每晚十一点后还在破路，电镐声吵得全楼睡不着。",
         "陆丰路与丰盛路交叉口工地", _at(24.7535, 118.1132)),
        (
            ("工地半夜施工太吵", "陆丰路那个修路的工地夜里一直施工，噪声特别大。", "", None),
            ("陆丰路工地夜间扰民", "破路机凌晨还在响，有没有夜间施工许可？",
             "陆丰路工地", _at(24.7536, 118.1134)),
        ),
        ("陆丰路南段夜间打桩", "南段的工地也开始夜间打桩，声音传得很远。",
         "陆丰路南段工地", _at(24.7525, 118.1129)),
        ("parking", "陆丰路工地外渣土车乱停", "工地外渣土车占道停放，路口视线被挡。"),
        ("陆丰市场清晨卸货噪音", "菜市场凌晨四点卸货，叉车和吆喝声很吵。",
         "陆丰农贸市场", _at(24.7580, 118.1180)),
    ),
    Problem(
        SHUANGHU, "sanitation",
        ("双沪码头海漂垃圾", "双沪码头岸边堆积大量海漂垃圾和泡沫，渔民反映影响出海。",
         "大嶝街道双沪社区双沪码头", _at(24.5630, 118.3350)),
        (
            ("码头边海漂垃圾很多", "双沪码头一带海上漂来的垃圾堆在岸边，臭味很重。", "", None),
            ("双沪码头岸线脏乱", "码头岸边泡沫塑料和渔网堆积，需要组织清理。", "双沪渔港码头", None),
        ),
        ("双沪码头北侧沙滩垃圾", "码头北边的沙滩上也冲上来很多垃圾。",
         "双沪码头北侧沙滩", _at(24.5637, 118.3355)),
        ("parking", "双沪码头货车乱停", "码头口收海鲜的货车乱停，渔民的车出不去。"),
        ("双沪村垃圾收集点满溢", "双沪村口的垃圾收集点两天没运，垃圾堆到路上。",
         "双沪村口垃圾点", _at(24.5680, 118.3300)),
    ),
    Problem(
        SHUANGHU, "street_vendors",
        ("大嶝小镇门口占道摆摊", "大嶝小镇免税街门口摊贩占道，节假日游客车辆无法通行。",
         "大嶝小镇免税街入口", _at(24.5600, 118.3280)),
        (
            ("免税街门口摊贩太多", "大嶝小镇门口小贩占满路边，旅游大巴停不下来。", "", None),
            ("大嶝小镇入口流动摊点", "入口处流动摊点卖海鲜干货，堵住停车场出口。", "大嶝小镇停车场出口", None),
        ),
        ("大嶝小镇西门有人摆摊", "西门外马路边也有人摆摊卖椰子。",
         "大嶝小镇西门", _at(24.5604, 118.3271)),
        ("tourist_crowds", "大嶝小镇节假日游客拥堵", "假期游客太多，小镇门口人车混行很危险。"),
        ("双沪小学门口小贩", "双沪小学门口放学时有人卖辣条和玩具。",
         "双沪小学门口", _at(24.5660, 118.3320)),
    ),
    Problem(
        ZENGLIN, "parking",
        ("曾林路口大货车违停", "曾林路与马巷大道路口经常有大货车违停过夜，挡住视线，出过两次事故。",
         "马巷镇曾林社区曾林路与马巷大道路口", _at(24.6450, 118.2400)),
        (
            ("路口货车停着挡视线", "曾林路口的大货车晚上停在路边，转弯的车看不见，太危险。", "", None),
            ("曾林路口大车乱停", "马巷大道曾林路口大车占道停车，早上上学的孩子很危险。",
             "马巷大道曾林路口", _at(24.6451, 118.2402)),
        ),
        ("曾林路东段货车过夜停放", "曾林路东段也有货车整夜停着，旁边就是居民楼。",
         "曾林路东段", _at(24.6455, 118.2412)),
        ("greening", "曾林路口绿化带被压坏", "路口的绿化带被大车压坏了，草坪全是车辙。"),
        ("曾林小区内车辆乱停", "曾林小区里面乱停车，消防通道被占。",
         "曾林小区", _at(24.6490, 118.2360)),
    ),
    Problem(
        ZENGLIN, "fire_hazard",
        ("曾林小区电动车飞线充电", "曾林小区7号楼有住户从窗户拉电线下来给电动车充电，很容易起火。",
         "曾林小区7号楼", _at(24.6488, 118.2362)),
        (
            ("7号楼有人拉线充电", "曾林小区7号楼楼下电瓶车拉线充电，线就挂在一楼窗外。", "", None),
            ("曾林小区飞线充电隐患", "楼下好几辆电单车飞线充电，晚上插一夜，担心火灾。",
             "曾林小区7栋楼下", None),
        ),
        ("曾林小区8号楼楼道停电动车", "8号楼楼道里停了好几辆电动车在充电，堵住楼梯。",
         "曾林小区8号楼", _at(24.6489, 118.2365)),
        ("property_management", "7号楼物业不修门禁", "7号楼门禁坏了两个月，物业一直不修。"),
        ("曾林菜市场消防通道被占", "菜市场两侧的消防通道被摊位占用。",
         "曾林菜市场", _at(24.6430, 118.2380)),
    ),
    Problem(
        FANGXING, "square_dancing",
        ("舫星公园广场舞扰民", "舫星公园早上五点半就开始跳广场舞，音乐声把附近住户吵醒。",
         "马巷镇舫星社区舫星公园", _at(24.6500, 118.2500)),
        (
            ("公园清晨跳舞太吵", "舫星公园天没亮就放音乐跳舞，住在旁边的老人睡不好。", "", None),
            ("舫星公园晨练音响扰民", "晨练的舞蹈队音响开得很大，希望限制时间和音量。",
             "舫星公园南广场", _at(24.6501, 118.2502)),
        ),
        ("舫星公园北门晨练噪音", "北门那边也有一队晨练的放音乐，声音对着住宅。",
         "舫星公园北门", _at(24.6509, 118.2506)),
        ("greening", "舫星公园树木枯死", "公园里的几棵大树枯死了，树枝随时掉下来。"),
        ("舫星路夜宵摊噪音", "舫星路夜宵摊半夜划拳喝酒，吵到凌晨三点。",
         "舫星路夜宵街", _at(24.6460, 118.2550)),
    ),
    Problem(
        WUMEI, "property_management",
        ("五美小区物业撤场无人管", "五美小区物业合同到期撤场，垃圾没人收，路灯也不亮，业主委员会还没成立。",
         "马巷镇五美社区五美小区", _at(24.6550, 118.2300)),
        (
            ("五美小区没有物业了", "物业公司撤走以后小区垃圾堆积，门岗也没人。", "", None),
            ("五美小区物业真空", "原物业撤场一个月，小区无人管理，请社区协调新物业进驻。", "五美小区", None),
        ),
        ("五美小区二期物业撤场", "二期的物业也撤了，地下车库的灯全灭了。",
         "五美小区二期", _at(24.6553, 118.2305)),
        ("neighbour_dispute", "五美小区业主占用公共绿地纠纷", "一楼业主圈占公共绿地建小院，邻居不满。"),
        ("五美花园物业停车乱收费", "五美花园物业停车收费没有公示，业主质疑。",
         "五美花园", _at(24.6600, 118.2250)),
    ),
    Problem(
        GUYAN, "sanitation",
        ("鼓岩村河道垃圾", "鼓岩村溪边被人倾倒建筑垃圾和生活垃圾，河道变窄，夏天臭气熏天。",
         "新店镇鼓岩社区鼓岩村溪边", _at(24.6700, 118.2200)),
        (
            ("村里小溪被倒垃圾", "鼓岩村溪边有人偷倒建筑垃圾，已经堆了一大片。", "", None),
            ("鼓岩溪边建筑垃圾堆放", "溪边建筑垃圾和废弃物越堆越多，堵住排水。", "鼓岩村小溪旁", None),
        ),
        ("鼓岩村桥头垃圾堆", "村口桥头也有人倒垃圾，离溪边那堆不远。",
         "鼓岩村桥头", _at(24.6705, 118.2207)),
        ("water_supply", "鼓岩村溪边水管漏水", "溪边的自来水管漏水好几天了，浪费严重。"),
        ("鼓岩市场垃圾清运不及时", "鼓岩市场每天下午垃圾才清运，上午一直堆着。",
         "鼓岩农贸市场", _at(24.6650, 118.2250)),
    ),
    Problem(
        XINYANG, "property_management",
        ("万科城停车位纠纷", "万科城物业把公共车位卖给外来车辆，业主回家没地方停，和物业吵了多次。",
         "海沧区新阳街道万科城地面停车场", _at(24.4880, 118.0360)),
        (
            ("万科城物业出租公共车位", "物业把小区公共车位租给外面的人，业主自己没车位停。", "", None),
            ("万科城地面车位被外来车占用", "物管放外来车辆进小区停车，业主意见很大。", "万科城北门停车场", None),
        ),
        ("万科城地下车库车位被私锁", "地下车库有人给公共车位加了地锁，物业不管。",
         "万科城地下车库", _at(24.4882, 118.0363)),
        ("greening", "万科城地面停车场树木遮挡", "停车场旁的树长得太大，挡住路灯，晚上很黑。"),
        ("万科城物业费上涨", "万科城物业没开业主大会就宣布物业费上涨。",
         "万科城物业服务中心", _at(24.4890, 118.0350)),
    ),
    Problem(
        XINYANG, "noise",
        ("新阳工业区夜间机器噪音", "新阳工业区一家工厂夜里机器轰鸣，旁边万科城的业主睡不着。",
         "新阳工业区新阳路3号厂房", _at(24.4900, 118.0400)),
        (
            ("工厂晚上机器声很大", "新阳路3号的厂房夜里一直开机器，嗡嗡声太吵。", "", None),
            ("新阳路厂房噪声扰民", "厂房夜间生产噪声扰民，请生态环境部门监测。",
             "新阳路3号", _at(24.4901, 118.0402)),
        ),
        ("新阳路5号厂房夜间噪音", "隔壁5号厂房夜里也有冲压声。",
         "新阳路5号厂房", _at(24.4903, 118.0406)),
        ("sanitation", "新阳路3号厂房门口废料堆积", "厂门口堆着废料和垃圾，下雨流到路上。"),
        ("万科城小区内装修噪音", "万科城12栋有住户中午装修电钻声不断。",
         "万科城12栋", _at(24.4870, 118.0355)),
    ),
    Problem(
        JINHAI, "tourist_crowds",
        ("滨海步道游客激增无人疏导", "周末滨海步道游客暴增，步道挤满了人，自行车和行人混行，已经有人摔伤。",
         "金海社区滨海步道中段", _at(24.7315, 118.1630)),
        (
            ("滨海步道周末人太多", "步道上人群太挤，骑车的和走路的撞在一起，需要人来疏导。", "", None),
            ("滨海步道中段客流拥堵", "节假日步道中段人流拥堵，建议限流和安排志愿者。",
             "滨海步道中段观景平台", _at(24.7316, 118.1632)),
        ),
        ("滨海步道南段游客拥挤", "南段靠近沙滩的地方游客挤满了，没有人维持秩序。",
         "滨海步道南段沙滩口", _at(24.7300, 118.1645)),
        ("greening", "滨海步道中段绿化带被踩", "游客踩进绿化带拍照，花坛都被踩坏了。"),
        ("金海路公交站人多拥挤", "下班时间金海路公交站候车人太多，站台太小。",
         "金海路公交站", _at(24.7240, 118.1520)),
    ),
    Problem(
        FENGXIANG, "greening",
        ("凤祥公园树枝挡路灯", "凤祥公园的大树树枝长到路灯上，晚上步道一片黑，老人摔倒过。",
         "凤祥公园环湖步道", _at(24.7383, 118.1405)),
        (
            ("公园树枝太长需要修剪", "凤祥公园环湖步道树枝遮住路灯，晚上散步看不清路。", "", None),
            ("凤祥公园步道树木遮挡照明", "环湖步道的树木没修剪，路灯照不到地面。", "凤祥公园湖边步道", None),
        ),
        ("凤祥公园北门树枝压电线", "北门附近树枝压在电线上，刮风时有火花。",
         "凤祥公园北门", _at(24.7390, 118.1409)),
        ("sanitation", "凤祥公园环湖步道垃圾多", "步道边的垃圾桶没人清，塑料袋飘进湖里。"),
        ("凤祥路绿化带杂草丛生", "凤祥路中间绿化带杂草一人高，挡住行人视线。",
         "凤祥路中央绿化带", _at(24.7360, 118.1460)),
    ),
    Problem(
        YUNXI, "noise",
        ("芸溪广场商铺高音喇叭", "芸溪广场几家商铺门口用高音喇叭循环放促销广告，从早到晚。",
         "芸溪广场商业街", _at(24.7420, 118.1530)),
        (
            ("商铺门口喇叭太吵", "芸溪广场的商店门口一直放喇叭叫卖，声音很大。", "", None),
            ("芸溪广场促销音响噪音", "商业街店铺的音响外放，楼上住户受不了。", "芸溪广场商业街", None),
        ),
        ("芸溪广场南侧奶茶店音响", "南侧一家奶茶店门口放音乐，声音开得很大。",
         "芸溪广场南侧", _at(24.7418, 118.1533)),
        ("street_vendors", "芸溪广场商铺占道经营", "几家商铺把货架摆到人行道上。"),
        ("芸溪小区楼上小孩跑跳噪音", "芸溪小区3栋楼上孩子天天跑跳，楼下老人受不了。",
         "芸溪小区3栋", _at(24.7426, 118.1500)),
    ),
    Problem(
        WUMEI, "parking",
        ("五美小学门口家长违停", "五美小学放学时家长的车在校门口乱停，三条车道堵了两条。",
         "五美小学校门口", _at(24.6560, 118.2320)),
        (
            ("学校门口接孩子乱停车", "五美小学门口接送车辆随意停放，公交车过不去。", "", None),
            ("五美小学放学时段车辆堵塞", "放学时段校门口车辆乱停乱放，需要交警疏导。", "五美小学南门", None),
        ),
        ("五美小学东侧路违停", "学校东侧的小路也停满了接送的车。",
         "五美小学东侧路", _at(24.6562, 118.2326)),
        ("street_vendors", "五美小学门口小贩", "校门口有人卖辣条和玩具，孩子们围着买。"),
        ("五美市场门口违停", "五美市场门口三轮车和货车乱停。",
         "五美农贸市场", _at(24.6520, 118.2280)),
    ),
    Problem(
        ZENGLIN, "water_supply",
        ("曾林小区二次供水水质差", "曾林小区水箱很久没清洗，水龙头放出来的水发黄有异味。",
         "曾林小区二次供水泵房", _at(24.6486, 118.2358)),
        (
            ("小区自来水发黄", "曾林小区家里的水发黄，烧开有沉淀，怀疑水箱没清洗。", "", None),
            ("曾林小区水箱脏水质差", "二次供水水箱不清洗，水有异味，请水务来检测。", "曾林小区", None),
        ),
        ("曾林小区9号楼水质浑浊", "9号楼的自来水也浑浊，早上放出来是黄的。",
         "曾林小区9号楼", _at(24.6491, 118.2366)),
        ("property_management", "曾林小区泵房物业不开放", "物业不让业主进泵房查看，也不公示清洗记录。"),
        ("曾林路主水管漏水", "曾林路边的主水管漏水，路面一直有水冒出来。",
         "曾林路中段", _at(24.6440, 118.2420)),
    ),
)  # fmt: skip


def _version(problem: Problem, version: Version, **changes: object) -> Whistle:
    title, description, address, location = version
    base = Whistle(
        community=problem.community,
        category=problem.category,
        title=title,
        description=description,
        address=address or problem.original[2],
        location=location,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def pairs() -> list[Pair]:
    """Every labelled pair, in a fixed order."""
    out: list[Pair] = []
    for number, problem in enumerate(PROBLEMS):
        original = _version(problem, problem.original, location=problem.original[3])
        drafts = [_version(problem, v) for v in problem.rewordings]
        out += [Pair("rewording", d, original) for d in drafts]
        out.append(Pair("nearby", _version(problem, problem.nearby), original))
        category, title, description = problem.other_here
        here = replace(
            original, category=category, title=title, description=description, location=None
        )
        out.append(Pair("same_place_other_problem", here, original))
        out.append(Pair("same_kind_elsewhere", _version(problem, problem.elsewhere), original))
        other = PROBLEMS[(number + 1) % len(PROBLEMS)]
        unrelated = _version(other, other.original, community=problem.community)
        out.append(Pair("other_problem", unrelated, original))
        neighbour = NEIGHBOUR[problem.community]
        out.append(Pair("other_community", replace(drafts[0], community=neighbour), original))
        old = replace(original, raised_at=NOW - timedelta(days=15 + number % 20))
        out.append(Pair("older", drafts[1], old))
        status = "closed" if number % 3 else "withdrawn"
        out.append(Pair("closed", drafts[0], replace(original, status=status)))
    return out
