"""Demo mail for the four branches (曲靖, 红河, 保山, 西双版纳), timed relative to `now`.

Seeding is idempotent: an item whose number is already stored is left alone, unless
``refresh`` asks to replace the demo items with a trail that ends near the new `now`.

Fixed numbers other parts of PostDesk (stories, action tests, the workbench demo) rely on are
the module constants below. All invented S10 and 13-digit EMS numbers carry valid check digits;
EA000000019CN is the exception: it is a fixed number of the brief and fails the S10 check
(its valid twin with the same story is EA000000014CN).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bot.store.models import MailItem, TrackingEvent, as_store_time
from bot.store.status import Category, Channel, Priority
from bot.store.status import StatusCode as S
from bot.store.uow import UowFactory
from bot.store.workorders import (
    DeadlineRules,
    NewWorkOrder,
    book_pickup,
    open_work_order,
    record_feedback,
    remind_pickup,
)
from bot.text import gazetteer

IN_TRANSIT_TO_JINGHONG = "EA000000005CN"
STUCK_AT_KUNMING = "EA000000019CN"
STUCK_AT_KUNMING_VALID = "EA000000014CN"
DELIVERED_TO_GATEKEEPER = "1151238971060"
AT_STATION_TENGCHONG = "9812345678901"
RETURNED_TO_MENGZI = "RR123456785CN"

KUNMING = "昆明邮区中心局"
QUJING = "曲靖邮区中心局"
HONGHE = "红河州邮区中心局"
BAOSHAN = "保山邮区中心局"
BANNA = "西双版纳州邮区中心局"

# Places outside the gazetteer of the four branches: official name -> prefecture.
_OTHER_PLACES = {"昆明市": "昆明市", "五华区": "昆明市", "官渡区": "昆明市", "宝山区": "上海市"}


@dataclass(frozen=True)
class SeedResult:
    """What a seeding run did: items added, demo items replaced (refresh) and left alone."""

    added: int
    replaced: int
    kept: int


def _prefecture(area: str) -> str:
    place = gazetteer.lookup(area)
    if place is not None:
        return place.prefecture
    return _OTHER_PLACES[area]


# Trail steps: (hours before now, status, place, unit, description).
# A step at a centre uses the centre as place and unit; `_outlet` and `_centre` build them.
Step = tuple[float, S, str, str, str]


def _centre(hours: float, status: S, centre: str, next_stop: str | None = None) -> Step:
    if status is S.DEPARTED:
        text = f"【{centre}】已发出，下一站【{next_stop}】"
    elif status is S.IN_TRANSIT:
        text = f"【{centre}】已发出，正在运往【{next_stop}】，运输途中"
    else:
        text = f"【{centre}】已到达，正在进行分拣处理"
    return (hours, status, centre, centre, text)


def _outlet(hours: float, status: S, place: str, unit: str, text: str) -> Step:
    return (hours, status, place, unit, f"【{unit}】{text}")


@dataclass(frozen=True)
class _Demo:
    number: str
    product: str
    sender_area: str
    recipient_area: str
    recipient_name: str
    recipient_phone: str
    recipient_address: str
    postage: str
    weight_g: int
    status: S
    steps: tuple[Step, ...]
    promised_hours: float | None = None  # promised delivery, hours from posting
    insured_value: str | None = None
    signed_by: str | None = None


def _demos() -> list[_Demo]:
    """The demo items; hours count back from `now`."""
    return [
        _Demo(
            IN_TRANSIT_TO_JINGHONG, "EMS", "昆明市", "景洪市", "玉应罕", "13988123456",
            "景洪市勐泐大道18号傣乡花园2栋1单元302室", "24.00", 820, S.IN_TRANSIT,
            (
                _outlet(30, S.POSTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        "已收寄，揽投员：杨志刚，电话：13708712345"),
                _outlet(27, S.DEPARTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        f"已发出，下一站【{KUNMING}】"),
                _centre(24, S.ARRIVED, KUNMING),
                _centre(21, S.DEPARTED, KUNMING, BANNA),
                _centre(4, S.ARRIVED, BANNA),
            ),
            promised_hours=48,
        ),
        _Demo(
            STUCK_AT_KUNMING, "EMS", "麒麟区", "勐海县", "刀志明", "13908791234",
            "勐海县勐海镇象山路45号", "31.00", 1650, S.IN_TRANSIT,
            (
                _outlet(125, S.POSTED, "曲靖市麒麟区", "曲靖市麒麟区邮政分公司南宁营业部",
                        "已收寄，揽投员：孔令辉，电话：13887456210"),
                _outlet(122, S.DEPARTED, "曲靖市麒麟区", "曲靖市麒麟区邮政分公司南宁营业部",
                        f"已发出，下一站【{QUJING}】"),
                _centre(118, S.ARRIVED, QUJING),
                _centre(112, S.DEPARTED, QUJING, KUNMING),
                _centre(96, S.ARRIVED, KUNMING),
            ),
            promised_hours=72,
        ),
        _Demo(
            STUCK_AT_KUNMING_VALID, "EMS", "宣威市", "勐腊县", "岩罕龙", "13769125508",
            "勐腊县勐腊镇曼龙代路12号", "28.00", 1200, S.IN_TRANSIT,
            (
                _outlet(122, S.POSTED, "宣威市", "宣威市邮政分公司虹桥营业部",
                        "已收寄，揽投员：浦建国，电话：13518742260"),
                _centre(116, S.ARRIVED, QUJING),
                _centre(110, S.DEPARTED, QUJING, KUNMING),
                _centre(97, S.ARRIVED, KUNMING),
            ),
            promised_hours=72,
        ),
        _Demo(
            DELIVERED_TO_GATEKEEPER, "EMS", "官渡区", "宣威市", "张建平", "13987420615",
            "宣威市虹桥街道建设路88号宣威市第一中学", "22.00", 560, S.DELIVERED,
            (
                _outlet(80, S.POSTED, "昆明市官渡区", "昆明市官渡区邮政分公司关上营业部",
                        "已收寄，揽投员：马丽，电话：13708861427"),
                _centre(76, S.ARRIVED, KUNMING),
                _centre(70, S.DEPARTED, KUNMING, QUJING),
                _centre(64, S.ARRIVED, QUJING),
                _centre(60, S.DEPARTED, QUJING, "宣威市邮政分公司虹桥营业部"),
                _outlet(36, S.ARRIVED, "宣威市", "宣威市邮政分公司虹桥营业部", "已到达"),
                _outlet(34, S.OUT_FOR_DELIVERY, "宣威市", "宣威市邮政分公司虹桥营业部",
                        "安排投递，投递员：朱文斌，电话：15887412368，请保持电话畅通"),
                _outlet(30, S.DELIVERED, "宣威市", "宣威市邮政分公司虹桥营业部",
                        "已妥投，签收人：门卫代收。如有疑问请联系投递员朱文斌，电话：15887412368"),
            ),
            promised_hours=72, signed_by="门卫代收",
        ),
        _Demo(
            AT_STATION_TENGCHONG, "邮政快递包裹", "隆阳区", "腾冲市", "赵德明", "13988562741",
            "腾冲市和顺镇水碓村大石巷6号", "12.00", 2300, S.AT_STATION,
            (
                _outlet(50, S.POSTED, "保山市隆阳区", "保山市隆阳区邮政分公司正阳营业部",
                        "已收寄，揽投员：段玉梅，电话：13577568204"),
                _centre(46, S.ARRIVED, BAOSHAN),
                _centre(40, S.DEPARTED, BAOSHAN, "腾冲市邮政分公司和顺营业部"),
                _outlet(26, S.ARRIVED, "腾冲市和顺镇", "腾冲市邮政分公司和顺营业部", "已到达"),
                _outlet(20, S.AT_STATION, "中邮驿站（和顺古镇店）", "腾冲市邮政分公司和顺营业部",
                        "已投递至【中邮驿站（和顺古镇店）】，请凭取件码 6-3-2041 及时领取。"
                        "驿站地址：腾冲市和顺镇双虹桥旁，电话：0875-5158231"),
            ),
        ),
        _Demo(
            RETURNED_TO_MENGZI, "挂号信", "蒙自市", "个旧市", "杨春林", "13908735162",
            "个旧市金湖东路116号附3号", "4.20", 20, S.RETURNED,
            (
                _outlet(288, S.POSTED, "蒙自市", "蒙自市邮政分公司天马路营业部", "已收寄"),
                _outlet(284, S.DEPARTED, "蒙自市", "蒙自市邮政分公司天马路营业部",
                        f"已发出，下一站【{HONGHE}】"),
                _centre(280, S.ARRIVED, HONGHE),
                _centre(270, S.DEPARTED, HONGHE, "个旧市邮政分公司金湖营业部"),
                _outlet(250, S.ARRIVED, "个旧市", "个旧市邮政分公司金湖营业部", "已到达"),
                _outlet(248, S.OUT_FOR_DELIVERY, "个旧市", "个旧市邮政分公司金湖营业部",
                        "安排投递，投递员：李红梅，电话：13577305819"),
                _outlet(244, S.FAILED, "个旧市", "个旧市邮政分公司金湖营业部",
                        "投递失败，原因：原址查无此人，收件人电话无法接通"),
                _outlet(120, S.RETURNING, "个旧市", "个旧市邮政分公司金湖营业部",
                        "邮件逾期无法投递，已按规定退回寄件人"),
                _centre(110, S.ARRIVED, HONGHE),
                _centre(104, S.DEPARTED, HONGHE, "蒙自市邮政分公司天马路营业部"),
                _outlet(60, S.ARRIVED, "蒙自市", "蒙自市邮政分公司天马路营业部", "退回邮件已到达"),
                _outlet(50, S.RETURNED, "蒙自市", "蒙自市邮政分公司天马路营业部",
                        "退回妥投，寄件人已签收"),
            ),
        ),
        _Demo(
            "EA305127681CN", "EMS", "昆明市", "麒麟区", "陈晓燕", "13908741583",
            "曲靖市麒麟区南宁北路寥廓花园9栋2单元501室", "18.00", 400, S.DELIVERED,
            (
                _outlet(52, S.POSTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        "已收寄，揽投员：杨志刚，电话：13708712345"),
                _centre(48, S.ARRIVED, KUNMING),
                _centre(44, S.DEPARTED, KUNMING, QUJING),
                _centre(38, S.ARRIVED, QUJING),
                _outlet(30, S.ARRIVED, "曲靖市麒麟区", "曲靖市麒麟区邮政分公司南宁营业部",
                        "已到达"),
                _outlet(28, S.OUT_FOR_DELIVERY, "曲靖市麒麟区", "曲靖市麒麟区邮政分公司南宁营业部",
                        "安排投递，投递员：孔令辉，电话：13887456210，请保持电话畅通"),
                _outlet(26, S.DELIVERED, "曲靖市麒麟区", "曲靖市麒麟区邮政分公司南宁营业部",
                        "已妥投，签收人：本人签收。感谢使用中国邮政"),
            ),
            promised_hours=48, signed_by="陈晓燕",
        ),
        _Demo(
            "EB412760937CN", "EMS", "五华区", "隆阳区", "段志强", "13577582046",
            "保山市隆阳区正阳南路永昌花园3幢402室", "26.00", 950, S.OUT_FOR_DELIVERY,
            (
                _outlet(28, S.POSTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        "已收寄，揽投员：杨志刚，电话：13708712345"),
                _centre(25, S.ARRIVED, KUNMING),
                _centre(22, S.DEPARTED, KUNMING, BAOSHAN),
                _centre(8, S.ARRIVED, BAOSHAN),
                _outlet(4, S.ARRIVED, "保山市隆阳区", "保山市隆阳区邮政分公司正阳营业部", "已到达"),
                _outlet(2, S.OUT_FOR_DELIVERY, "保山市隆阳区", "保山市隆阳区邮政分公司正阳营业部",
                        "安排投递，投递员：杨国华，电话：13887581270，请保持电话畅通"),
            ),
            promised_hours=36, insured_value="3000.00",
        ),
        _Demo(
            "9834216570482", "邮政快递包裹", "官渡区", "建水县", "马丽芬", "13887316024",
            "建水县临安镇朝阳北路22号", "10.00", 3200, S.ARRIVED,
            (
                _outlet(86, S.POSTED, "昆明市官渡区", "昆明市官渡区邮政分公司关上营业部",
                        "已收寄，揽投员：马丽，电话：13708861427"),
                _centre(80, S.ARRIVED, KUNMING),
                _centre(60, S.DEPARTED, KUNMING, HONGHE),
                _centre(30, S.ARRIVED, HONGHE),
                _centre(22, S.DEPARTED, HONGHE, "建水县邮政分公司临安营业部"),
                _outlet(8, S.ARRIVED, "建水县", "建水县邮政分公司临安营业部", "已到达"),
            ),
            promised_hours=72,
        ),
        _Demo(
            "9912873460159", "邮政快递包裹", "官渡区", "景洪市", "岩香", "15825071936",
            "景洪市嘎兰中路告庄西双景6栋", "9.00", 1500, S.AT_STATION,
            (
                _outlet(74, S.POSTED, "昆明市官渡区", "昆明市官渡区邮政分公司关上营业部",
                        "已收寄，揽投员：马丽，电话：13708861427"),
                _centre(70, S.ARRIVED, KUNMING),
                _centre(66, S.DEPARTED, KUNMING, BANNA),
                _centre(44, S.ARRIVED, BANNA),
                _outlet(34, S.ARRIVED, "景洪市", "景洪市邮政分公司勐泐大道营业部", "已到达"),
                _outlet(30, S.AT_STATION, "邮政智能包裹柜（告庄西双景北门）",
                        "景洪市邮政分公司勐泐大道营业部",
                        "已投递至【邮政智能包裹柜（告庄西双景北门）】，"
                        "取件码 48127305，请及时取件"),
            ),
        ),
        _Demo(
            "EE520183743CN", "EMS", "昆明市", "勐腊县", "玉罕叫", "13988175240",
            "勐腊县勐仑镇城子村委会曼仑村18号", "32.00", 2100, S.FAILED,
            (
                _outlet(56, S.POSTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        "已收寄，揽投员：杨志刚，电话：13708712345"),
                _centre(52, S.ARRIVED, KUNMING),
                _centre(49, S.DEPARTED, KUNMING, BANNA),
                _centre(28, S.ARRIVED, BANNA),
                _outlet(12, S.ARRIVED, "勐腊县", "勐腊县邮政分公司勐仑营业部", "已到达"),
                _outlet(9, S.OUT_FOR_DELIVERY, "勐腊县", "勐腊县邮政分公司勐仑营业部",
                        "安排投递，投递员：岩温，电话：13769103852"),
                _outlet(5, S.FAILED, "勐腊县", "勐腊县邮政分公司勐仑营业部",
                        "投递失败，原因：收件人电话无人接听，将于次日再次投递"),
            ),
            promised_hours=52,
        ),
        _Demo(
            "9806152347718", "邮政快递包裹", "官渡区", "会泽县", "罗志云", "18787420931",
            "会泽县古城街道钟屏路15号", "15.00", 4800, S.RETURNING,
            (
                _outlet(120, S.POSTED, "昆明市官渡区", "昆明市官渡区邮政分公司关上营业部",
                        "已收寄，揽投员：马丽，电话：13708861427"),
                _centre(114, S.ARRIVED, KUNMING),
                _centre(108, S.DEPARTED, KUNMING, QUJING),
                _centre(100, S.ARRIVED, QUJING),
                _outlet(60, S.ARRIVED, "会泽县", "会泽县邮政分公司古城营业部", "已到达"),
                _outlet(56, S.OUT_FOR_DELIVERY, "会泽县", "会泽县邮政分公司古城营业部",
                        "安排投递，投递员：何家乐，电话：15987403126"),
                _outlet(30, S.RETURNING, "会泽县", "会泽县邮政分公司古城营业部",
                        "收件人拒收，邮件正在退回寄件人"),
                _outlet(20, S.DEPARTED, "会泽县", "会泽县邮政分公司古城营业部",
                        f"退回邮件已发出，下一站【{QUJING}】"),
            ),
        ),
        _Demo(
            "EA607342156CN", "EMS", "罗平县", "昆明市", "周海燕", "13708824715",
            "昆明市五华区东风西路123号三合营大厦1108室", "20.00", 300, S.POSTED,
            (
                _outlet(2, S.POSTED, "罗平县", "罗平县邮政分公司九龙营业部",
                        "已收寄，揽投员：毕荣，电话：13988402175"),
            ),
            promised_hours=48,
        ),
        _Demo(
            "9921046385527", "邮政快递包裹", "官渡区", "陆良县", "资云华", "15912460378",
            "陆良县中枢街道同乐大道北段268号", "11.00", 2600, S.DELIVERED,
            (
                _outlet(70, S.POSTED, "昆明市官渡区", "昆明市官渡区邮政分公司关上营业部",
                        "已收寄，揽投员：马丽，电话：13708861427"),
                _centre(66, S.ARRIVED, KUNMING),
                _centre(60, S.DEPARTED, KUNMING, QUJING),
                _centre(52, S.ARRIVED, QUJING),
                _outlet(40, S.ARRIVED, "陆良县", "陆良县邮政分公司中枢营业部", "已到达"),
                _outlet(38, S.OUT_FOR_DELIVERY, "陆良县", "陆良县邮政分公司中枢营业部",
                        "安排投递，投递员：钱志勇，电话：13887471590"),
                _outlet(35, S.DELIVERED, "陆良县", "陆良县邮政分公司中枢营业部",
                        "已妥投，签收人：家人代收"),
            ),
            signed_by="家人代收",
        ),
        _Demo(
            "9845902716634", "邮政快递包裹", "开远市", "河口瑶族自治县", "盘金凤", "13577340982",
            "河口瑶族自治县河口镇人民路52号", "8.00", 1100, S.IN_TRANSIT,
            (
                _outlet(20, S.POSTED, "开远市", "开远市邮政分公司灵泉营业部",
                        "已收寄，揽投员：普志华，电话：13908739520"),
                _centre(16, S.ARRIVED, HONGHE),
                _centre(10, S.IN_TRANSIT, HONGHE, "河口瑶族自治县邮政分公司营业部"),
            ),
        ),
        _Demo(
            "RR258039147CN", "挂号信", "五华区", "河口瑶族自治县", "黄振宇", "13887305148",
            "河口瑶族自治县河口镇滨河路8号", "4.20", 40, S.DELIVERED,
            (
                _outlet(100, S.POSTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        "已收寄"),
                _centre(96, S.ARRIVED, KUNMING),
                _centre(90, S.DEPARTED, KUNMING, HONGHE),
                _centre(70, S.ARRIVED, HONGHE),
                _centre(64, S.DEPARTED, HONGHE, "河口瑶族自治县邮政分公司营业部"),
                _outlet(30, S.OUT_FOR_DELIVERY, "河口瑶族自治县", "河口瑶族自治县邮政分公司营业部",
                        "安排投递，投递员：陶文，电话：13769301845"),
                _outlet(27, S.DELIVERED, "河口瑶族自治县", "河口瑶族自治县邮政分公司营业部",
                        "已妥投，签收人：本人签收"),
            ),
            signed_by="黄振宇",
        ),
        _Demo(
            "1051607511532", "EMS", "勐海县", "昆明市", "李文博", "13888215607",
            "昆明市盘龙区北京路1079号金尚俊园5栋1202室", "38.00", 2500, S.IN_TRANSIT,
            (
                _outlet(14, S.POSTED, "勐海县", "勐海县邮政分公司勐海营业部",
                        "已收寄，揽投员：岩罕，电话：13988127450"),
                _centre(9, S.ARRIVED, BANNA),
                _centre(6, S.DEPARTED, BANNA, KUNMING),
            ),
            promised_hours=48, insured_value="2000.00",
        ),
        _Demo(
            "9978120346651", "邮政快递包裹", "官渡区", "龙陵县", "杨晓东", "15096832107",
            "龙陵县龙山镇龙新路17号", "13.00", 3900, S.IN_TRANSIT,
            (
                _outlet(30, S.POSTED, "昆明市官渡区", "昆明市官渡区邮政分公司关上营业部",
                        "已收寄，揽投员：马丽，电话：13708861427"),
                _centre(26, S.ARRIVED, KUNMING),
                _centre(14, S.IN_TRANSIT, KUNMING, BAOSHAN),
            ),
        ),
        _Demo(
            "RR406172897CN", "挂号信", "隆阳区", "昌宁县", "昌宁县人力资源和社会保障局",
            "0875-6121345",
            "昌宁县田园镇右甸路99号", "4.20", 60, S.DELIVERED,
            (
                _outlet(60, S.POSTED, "保山市隆阳区", "保山市隆阳区邮政分公司正阳营业部", "已收寄"),
                _centre(56, S.ARRIVED, BAOSHAN),
                _centre(50, S.DEPARTED, BAOSHAN, "昌宁县邮政分公司田园营业部"),
                _outlet(28, S.OUT_FOR_DELIVERY, "昌宁县", "昌宁县邮政分公司田园营业部",
                        "安排投递，投递员：字家祥，电话：13769502183"),
                _outlet(25, S.DELIVERED, "昌宁县", "昌宁县邮政分公司田园营业部",
                        "已妥投，签收人：收发室代收"),
            ),
            signed_by="收发室代收",
        ),
        _Demo(
            "1172039845806", "EMS", "昆明市", "元阳县", "卢秀英", "13887304216",
            "元阳县南沙镇南沙大道36号", "25.00", 700, S.DELIVERED,
            (
                _outlet(76, S.POSTED, "昆明市五华区", "昆明市五华区邮政分公司翠湖营业部",
                        "已收寄，揽投员：杨志刚，电话：13708712345"),
                _centre(72, S.ARRIVED, KUNMING),
                _centre(66, S.DEPARTED, KUNMING, HONGHE),
                _centre(48, S.ARRIVED, HONGHE),
                _outlet(30, S.OUT_FOR_DELIVERY, "元阳县", "元阳县邮政分公司南沙营业部",
                        "安排投递，投递员：白文亮，电话：13508732906"),
                _outlet(28, S.DELIVERED, "元阳县", "元阳县邮政分公司南沙营业部",
                        "已妥投，签收人：他人代收"),
            ),
            promised_hours=72, signed_by="同事李明代收",
        ),
        _Demo(
            "9860347129905", "邮政快递包裹", "宝山区", "施甸县", "郭春兰", "13211598074",
            "施甸县甸阳镇长安路41号", "16.00", 5200, S.IN_TRANSIT,
            (
                _outlet(100, S.POSTED, "上海市宝山区", "上海市宝山区邮政分公司友谊路营业部",
                        "已收寄"),
                _centre(30, S.ARRIVED, KUNMING),
                _centre(24, S.DEPARTED, KUNMING, BAOSHAN),
                _centre(7, S.ARRIVED, BAOSHAN),
            ),
        ),
    ]


def _build(demo: _Demo, now: datetime) -> MailItem:
    def ago(hours: float) -> datetime:
        return now - timedelta(hours=hours)

    posted_at = ago(demo.steps[0][0])
    return MailItem(
        number=demo.number,
        product=demo.product,
        sender_area=demo.sender_area,
        sender_prefecture=_prefecture(demo.sender_area),
        recipient_area=demo.recipient_area,
        recipient_prefecture=_prefecture(demo.recipient_area),
        recipient_name=demo.recipient_name,
        recipient_phone=demo.recipient_phone,
        recipient_address=demo.recipient_address,
        posted_at=posted_at,
        promised_by=(posted_at + timedelta(hours=demo.promised_hours)
                     if demo.promised_hours is not None else None),
        insured_value=Decimal(demo.insured_value) if demo.insured_value is not None else None,
        postage=Decimal(demo.postage),
        weight_g=demo.weight_g,
        status=demo.status.value,
        signed_by=demo.signed_by,
        events=[
            TrackingEvent(occurred_at=ago(hours), place=place, unit=unit, status_code=status.value,
                          description=text)
            for hours, status, place, unit, text in demo.steps
        ],
    )


def demo_mail(now: datetime) -> list[MailItem]:
    """Build (without storing) the demo mail items, their trails ending relative to `now`."""
    now = as_store_time(now)
    return [_build(demo, now) for demo in _demos()]


def seed_demo_mail(uow_factory: UowFactory, now: datetime, refresh: bool = False) -> SeedResult:
    """Store the demo mail items that are missing.

    Args:
        uow_factory: opens a unit of work.
        now: the moment the demo trails are timed against.
        refresh: replace demo items already stored (same numbers) with fresh trails.

    Returns:
        How many items were added, replaced and kept.
    """
    added = replaced = kept = 0
    with uow_factory() as uow:
        for mail in demo_mail(now):
            existing = uow.mail.get_by_number(mail.number)
            if existing is not None and not refresh:
                kept += 1
                continue
            if existing is not None:
                uow.mail.remove(existing)
                replaced += 1
            else:
                added += 1
            uow.mail.add(mail)
        uow.commit()
    return SeedResult(added, replaced, kept)


# Demo work orders from the channels the seats serve: (hours before now, request, answered after
# hours or None). External ids make seeding them idempotent.
def _demo_orders() -> list[tuple[float, NewWorkOrder, float | None]]:
    return [
        (6, NewWorkOrder(Channel.DIRECT_11183, Category.DELAY,
                         "客户来电：邮件在昆明停了好几天没有动静，要求尽快投递并回电说明",
                         mail_number=STUCK_AT_KUNMING_VALID, customer_phone="13708712345",
                         customer_name="杨丽", external_id="DEMO-11183D-0001"), None),
        (30, NewWorkOrder(Channel.GOV_12345, Category.DELIVERY_SERVICE,
                          "没有经过本人同意放在门卫，也没打电话，东西差点丢了",
                          mail_number=DELIVERED_TO_GATEKEEPER, customer_phone="15087341122",
                          external_id="DEMO-12345-0001"), None),
        (2, NewWorkOrder(Channel.PINDUODUO, Category.DAMAGED,
                         "拼多多买家反映外包装破损，里面的杯子碎了一个",
                         mail_number="9912873460159",
                         customer_phone="13987013344", external_id="DEMO-PDD-0001"), None),
        (7, NewWorkOrder(Channel.SPB_TRANSFER, Category.ATTITUDE,
                         "国家邮政局转办：客户称蒙自营业部柜台人员态度恶劣，拒绝解释资费",
                         customer_phone="13887315566", county="蒙自市",
                         priority=Priority.HIGH, external_id="DEMO-SPB-0001"), None),
        (20, NewWorkOrder(Channel.WECHAT, Category.IMPROPER_FEE,
                          "到付说好12元，投递员收了20元", mail_number=AT_STATION_TENGCHONG,
                          customer_phone="18725067788", external_id="DEMO-WX-0001"), 3),
        (3, NewWorkOrder(Channel.CAINIAO, Category.DELAY, "菜鸟工单：买家催件，超过承诺时效",
                         mail_number="9860347129905", external_id="DEMO-CN-0001"), None),
        (20, NewWorkOrder(Channel.STATE_GRID, Category.OTHER,
                          "国网申诉：电费发票挂号信一直没有收到", customer_phone="13759021234",
                          county="麒麟区", external_id="DEMO-SG-0001"), None),
    ]


def seed_demo_work_orders(uow_factory: UowFactory, rules: DeadlineRules, now: datetime) -> int:
    """Store the demo work orders and one pickup chased three times (escalated); idempotent.

    Returns:
        How many work orders were created now.
    """
    now = as_store_time(now)
    created = 0
    for hours, request, answered_after in _demo_orders():
        opened_at = now - timedelta(hours=hours)
        opened = open_work_order(uow_factory, rules, request, opened_at,
                                 actor=f"import:{Channel(request.channel).value}")
        if not opened.created:
            continue
        created += 1
        if answered_after is not None:
            record_feedback(uow_factory, rules, opened.order.number,
                            opened_at + timedelta(hours=answered_after), "agent:demo",
                            "已核实多收8元，已安排投递员当面退还，并对其进行了批评教育")
    booking, _ = book_pickup(uow_factory, channel=Channel.WECHAT, address="景洪市宣慰大道66号",
                             phone="13987650001", time_window="今天上午",
                             now=now - timedelta(hours=5), sender_id="demo-pickup")
    for k in range(1, 4):
        reminder = remind_pickup(uow_factory, rules, turn_key=f"demo-pickup:{k}",
                                 now=now - timedelta(hours=4 - k), pickup_number=booking.number)
        created += 1 if reminder.escalated_now == "opened" else 0
    return created
