"""Word lists and templates of the synthetic live-commerce generator (Chinese and English).

Every category has its own nouns, so titles, transcripts and comments of a room name the
things it sells: text carries the room's category. Generic chat lines carry no signal.
"""

from __future__ import annotations

#: (key, English name, Chinese name, typical price in yuan)
CATEGORIES: tuple[tuple[str, str, str, float], ...] = (
    ("beauty", "beauty", "美妆", 120.0),
    ("fashion", "fashion", "服饰", 160.0),
    ("food", "snacks & food", "零食美食", 45.0),
    ("electronics", "gadgets", "数码", 320.0),
    ("home", "home goods", "家居", 95.0),
    ("baby", "mother & baby", "母婴", 130.0),
    ("sports", "sports", "运动", 110.0),
    ("jewelry", "jewelry", "珠宝", 650.0),
    ("pets", "pet supplies", "宠物", 70.0),
    ("books", "books", "图书", 40.0),
)

#: Per category: six product nouns in English and, in the same order, in Chinese.
NOUNS_EN: dict[str, tuple[str, ...]] = {
    "beauty": ("lipstick", "foundation", "eye shadow", "serum", "face mask", "sunscreen"),
    "fashion": ("dress", "jeans", "sneakers", "jacket", "T-shirt", "handbag"),
    "food": ("snack box", "green tea", "coffee beans", "mixed nuts", "chocolate", "instant noodles"),
    "electronics": ("earbuds", "phone case", "power bank", "smartwatch", "charger", "speaker"),
    "home": ("pillow", "bedding set", "storage box", "frying pan", "desk lamp", "bath towel"),
    "baby": ("diapers", "baby formula", "stroller", "baby wipes", "toy blocks", "baby bottle"),
    "sports": ("yoga mat", "dumbbells", "running shoes", "sportswear", "jump rope", "protein powder"),
    "jewelry": ("necklace", "bracelet", "earrings", "ring", "jade pendant", "pearl studs"),
    "pets": ("cat food", "dog leash", "cat litter", "pet bed", "chew toy", "fish tank"),
    "books": ("novel", "cookbook", "picture book", "notebook", "comic", "study guide"),
}
NOUNS_ZH: dict[str, tuple[str, ...]] = {
    "beauty": ("口红", "粉底液", "眼影", "精华", "面膜", "防晒霜"),
    "fashion": ("连衣裙", "牛仔裤", "运动鞋", "夹克", "T恤", "手提包"),
    "food": ("零食礼盒", "绿茶", "咖啡豆", "每日坚果", "巧克力", "方便面"),
    "electronics": ("蓝牙耳机", "手机壳", "充电宝", "智能手表", "充电器", "音箱"),
    "home": ("枕头", "四件套", "收纳盒", "平底锅", "台灯", "浴巾"),
    "baby": ("纸尿裤", "奶粉", "婴儿车", "湿巾", "积木玩具", "奶瓶"),
    "sports": ("瑜伽垫", "哑铃", "跑鞋", "运动服", "跳绳", "蛋白粉"),
    "jewelry": ("项链", "手链", "耳环", "戒指", "玉坠", "珍珠耳钉"),
    "pets": ("猫粮", "狗绳", "猫砂", "宠物窝", "磨牙玩具", "鱼缸"),
    "books": ("小说", "菜谱", "绘本", "笔记本", "漫画", "复习资料"),
}

BRANDS_EN: tuple[str, ...] = ("Luna", "Nova", "Aurora", "Maple", "Pebble", "Orchid", "Zephyr", "Cedar")
BRANDS_ZH: tuple[str, ...] = ("悦颜", "初禾", "木森", "星语", "云朵", "暖阳", "青柠", "素白")
ADJ_EN: tuple[str, ...] = ("classic", "premium", "limited edition", "everyday", "deluxe", "mini")
ADJ_ZH: tuple[str, ...] = ("经典款", "高端", "限量版", "日常款", "豪华装", "迷你")

HOSTS_EN: tuple[str, ...] = ("Amy", "Ben", "Chloe", "Dan", "Emma", "Finn", "Grace", "Leo", "Mia", "Sam")
HOSTS_ZH: tuple[str, ...] = ("小美", "阿杰", "琳琳", "大伟", "欢欢", "小鹿", "阿May", "晶晶", "老王", "甜甜")

# {cat}: category name, {noun}: a product noun of the category.
TITLE_EN: tuple[str, ...] = (
    "{cat} night: {noun} flash deals",
    "Live now: the best {noun} picks in {cat}",
    "{cat} live | buy one get one {noun}",
    "New {noun} drop, {cat} fan night",
)
TITLE_ZH: tuple[str, ...] = (
    "{cat}专场：{noun}限时秒杀",
    "今晚{noun}福利价，{cat}好物不停",
    "{cat}直播间｜{noun}买一送一",
    "新品{noun}首发，{cat}宠粉夜",
)
# {title}: a product title, {price}: its price, {noun}, {cat}.
TRANSCRIPT_EN: tuple[str, ...] = (
    "This {title} is only {price} yuan today, grab it now",
    "Let me show you this {noun}, the quality is amazing",
    "Only a few {title} left, link goes up in three two one",
    "If you love {cat}, you have to try this {noun}",
)
TRANSCRIPT_ZH: tuple[str, ...] = (
    "这款{title}今天只要{price}元，家人们赶紧下单",
    "给大家看一下这个{noun}，质量真的非常好",
    "{title}库存不多了，三二一上链接",
    "喜欢{cat}的宝宝们，这个{noun}一定要试试",
)
COMMENT_EN: tuple[str, ...] = (
    "what colors does the {noun} come in?",
    "how much is the {noun}?",
    "bought the {noun} last week, love it",
    "link for the {noun} please",
    "which brand is your {noun}?",
)
COMMENT_ZH: tuple[str, ...] = (
    "{noun}有什么颜色？",
    "{noun}多少钱？",
    "上周买了{noun}，很好用",
    "求{noun}的链接",
    "主播的{noun}是什么牌子？",
)
GENERIC_EN: tuple[str, ...] = ("hello from the chat", "love this stream", "first time here", "lol", "when is the giveaway?")
GENERIC_ZH: tuple[str, ...] = ("来了来了", "主播好美", "支持主播", "哈哈哈", "什么时候抽奖？")
