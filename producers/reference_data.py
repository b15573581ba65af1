"""Reference tables the simulator draws from: real GB/T 2260 regions, words, banks, courts.

Region codes are the published GB/T 2260 codes of the cities named in the reform documents
(Sichuan, Shaanxi, Hunan) and some of their districts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    """A prefecture-level city and the districts the simulator registers enterprises in."""

    code: str
    name: str
    province: str
    province_abbr: str
    districts: tuple[tuple[str, str], ...]
    streets: tuple[str, ...]


CITIES: tuple[City, ...] = (
    City(
        "510100",
        "成都市",
        "四川省",
        "川",
        (
            ("510104", "锦江区"),
            ("510105", "青羊区"),
            ("510106", "金牛区"),
            ("510107", "武侯区"),
            ("510108", "成华区"),
            ("510113", "青白江区"),
        ),
        ("春熙路", "红星路", "人民南路", "天府大道", "蜀都大道", "东大街", "府青路"),
    ),
    City(
        "510700",
        "绵阳市",
        "四川省",
        "川",
        (("510703", "涪城区"), ("510704", "游仙区")),
        ("临园路", "剑南路", "长虹大道", "跃进路"),
    ),
    City(
        "510900",
        "遂宁市",
        "四川省",
        "川",
        (("510903", "船山区"), ("510904", "安居区")),
        ("遂州中路", "明月路", "凯旋路", "德胜路"),
    ),
    City(
        "610100",
        "西安市",
        "陕西省",
        "陕",
        (("610102", "新城区"), ("610103", "碑林区"), ("610104", "莲湖区"), ("610113", "雁塔区")),
        ("莲湖路", "北大街", "西大街", "劳动路", "环城西路", "丰庆路"),
    ),
    City(
        "610500",
        "渭南市",
        "陕西省",
        "陕",
        (("610502", "临渭区"), ("610503", "华州区")),
        ("朝阳大街", "东风大街", "乐天大街", "胜利大街"),
    ),
    City(
        "430400",
        "衡阳市",
        "湖南省",
        "湘",
        (("430405", "珠晖区"), ("430406", "雁峰区"), ("430407", "石鼓区"), ("430408", "蒸湘区")),
        ("解放大道", "蒸阳南路", "船山大道", "先锋路", "衡州大道"),
    ),
    City(
        "430100",
        "长沙市",
        "湖南省",
        "湘",
        (("430102", "芙蓉区"), ("430103", "天心区"), ("430104", "岳麓区")),
        ("五一大道", "芙蓉中路", "麓山南路", "韶山北路"),
    ),
)

BRAND_SYLLABLES = tuple(
    "蓉锦天府信达华盛恒泰鑫源瑞丰宏嘉博诚德汇隆兴星云川秦湘安康智远启明联创新长永正合"
)
INDUSTRIES = (
    ("科技", "软件开发；信息技术咨询服务；数据处理和存储支持服务"),
    ("商贸", "日用百货销售；五金产品零售；食品销售（仅销售预包装食品）"),
    ("餐饮管理", "餐饮服务；餐饮管理；食品经营"),
    ("建筑工程", "房屋建筑和市政基础设施项目工程总承包；建筑劳务分包"),
    ("物流", "道路货物运输（不含危险货物）；国内货物运输代理；仓储服务"),
    ("文化传媒", "组织文化艺术交流活动；广告设计、代理；会议及展览服务"),
    ("医药", "药品零售；医疗器械销售；保健食品销售"),
    ("农业开发", "农作物种植；蔬菜种植；农产品的生产、销售、加工、运输、贮藏"),
    ("教育咨询", "教育咨询服务（不含涉许可审批的教育培训活动）；业务培训"),
    ("房地产开发", "房地产开发经营；物业管理；住房租赁"),
)
COMPANY_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")

SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹")
GIVEN_CHARS = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文斌")

BANKS = (
    "中国工商银行",
    "中国农业银行",
    "中国银行",
    "中国建设银行",
    "交通银行",
    "招商银行",
    "成都银行",
    "长安银行",
    "华融湘江银行",
    "四川农村商业联合银行",
)
ABNORMAL_REMOVAL_REASONS = (
    "已补报年度报告并公示",
    "已更正公示信息",
    "通过登记的住所可以重新取得联系",
)
DEREGISTRATION_REASONS = ("决议解散", "经营期限届满", "股东会决议解散", "营业执照被吊销后清算完毕")
COURT_SUFFIX = "人民法院"


def tax_office(district_code: str, district_name: str, city: City) -> tuple[str, str]:
    """The tax office of a district: 11-digit code (1 + region + 0000) and its name."""
    return (
        f"1{district_code}0000",
        f"国家税务总局{city.name}{district_name}税务局",
    )
